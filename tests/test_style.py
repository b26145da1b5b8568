"""Style gates that CI runs through the test suite: ruff (lint and format) and mypy on core/."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent
TREES = ["core", "plugins", "benchmarks", "tests", "examples"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def test_ruff_lint():
    out = run("ruff", "check", *TREES)
    assert out.returncode == 0, out.stdout + out.stderr


def test_ruff_format():
    out = run("ruff", "format", "--check", *TREES)
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_core():
    out = run("mypy", "core/diffblocks")
    assert out.returncode == 0, out.stdout + out.stderr
