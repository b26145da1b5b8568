"""Package metadata in the form current setuptools expects (no deprecation warnings on install)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).parent.parent
PYPROJECTS = [ROOT / "pyproject.toml", *sorted(ROOT.glob("plugins/*/pyproject.toml"))]


@pytest.mark.parametrize("path", PYPROJECTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_license_is_an_spdx_string(path):
    data = tomllib.loads(path.read_text())
    # a table ({text = ...}) makes setuptools warn that it is deprecated
    assert data["project"].get("license") == "Apache-2.0"
    # the string form needs setuptools >= 77 at build time
    setuptools = [r for r in data["build-system"]["requires"] if r.startswith("setuptools")]
    assert setuptools and re.fullmatch(r"setuptools>=(\d+).*", setuptools[0])
    assert int(re.fullmatch(r"setuptools>=(\d+).*", setuptools[0])[1]) >= 77


def test_slow_marker_is_registered():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert any(m.startswith("slow:") for m in data["tool"]["pytest"]["ini_options"]["markers"])
