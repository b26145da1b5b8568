"""Fixtures of the diffblocks-diffusers tests, imported by the test modules that use them.

There is deliberately no conftest.py here: other plugins' tests import names from their own
``conftest`` module, and a second module of that name would shadow theirs in a combined run.
"""

from __future__ import annotations

from typing import Any

import diffusers_tiny as tiny
import pytest


@pytest.fixture(scope="session")
def sdxl(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Tiny random SDXL components (shared: tests must not modify them)."""
    return tiny.sdxl_components(tmp_path_factory.mktemp("sdxl"))
