"""Fixtures of the diffblocks-diffusers tests: tiny random components, no hub."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("DIFFBLOCKS_PROGRESS", "0")

import tiny  # noqa: E402


@pytest.fixture(scope="session")
def sdxl(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return tiny.sdxl_components(tmp_path_factory.mktemp("sdxl"))


def with_fresh_scheduler(components: dict[str, Any]) -> dict[str, Any]:
    return {**components, "scheduler": tiny.fresh_scheduler(components["scheduler"])}


def max_diff(a: Any, b: Any) -> float:
    return float((a.float() - b.float()).abs().max())
