"""Fixtures of the diffblocks-diffusers tests: tiny random components, no hub."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import diffusers_tiny as tiny  # noqa: E402


@pytest.fixture(scope="session")
def sdxl(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return tiny.sdxl_components(tmp_path_factory.mktemp("sdxl"))
