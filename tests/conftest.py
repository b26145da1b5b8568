"""Test-session settings shared by the core tests.

Slow tests (``@pytest.mark.slow``: models, the docs build, benchmark smoke runs) run after the
others even when a session selects both, so a failure in the quick majority shows first. The
README's test command goes further and runs the two groups as separate sessions.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # a stable sort keeps each group in collection order
    items.sort(key=lambda item: item.get_closest_marker("slow") is not None)
