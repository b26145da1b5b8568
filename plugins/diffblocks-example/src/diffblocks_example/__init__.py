"""diffblocks-example: a small plugin showing both kinds of entry points."""
