"""pytest plugin and helpers for block authors (entry point ``pytest11``)."""
