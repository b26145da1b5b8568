"""Every example in docs/ and README.md runs; the site builds with `mkdocs build --strict`.

Python blocks of one page run in order, in one fresh interpreter. Shell blocks run with bash in a
temporary folder; `pip install` there goes to a throw-away target folder (PIP_TARGET) that is put
on PYTHONPATH, so a tutorial can install a plugin without touching this environment. A block may be
skipped only with a `<!-- no-run: reason -->` comment right above it, and only for the reasons
listed below.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PAGES = sorted((ROOT / "docs").rglob("*.md")) + [ROOT / "README.md"]
FENCE = re.compile(
    r"(?:<!-- no-run: (?P<why>[^>]*) -->\n)?```(?P<lang>python|bash)[^\n]*\n(?P<code>.*?)```", re.DOTALL
)
ALLOWED_SKIPS = {"sets up and tests this repository (run by CI itself)", "needs a CUDA GPU"}


def blocks(page: Path):
    return [(m["lang"], m["code"], m["why"]) for m in FENCE.finditer(page.read_text())]


def test_skipped_examples_are_justified():
    for page in PAGES:
        for _, _, why in blocks(page):
            assert why is None or why in ALLOWED_SKIPS, f"{page}: unexplained skip {why!r}"


def env_for(tmp_path: Path) -> dict[str, str]:
    site = tmp_path / "pip-target"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIFFBLOCKS_")}
    bin_dir = os.path.dirname(sys.executable)
    env.update(
        {
            "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
            "PIP_TARGET": str(site),
            "PIP_NO_DEPS": "1",
            "PIP_NO_BUILD_ISOLATION": "0",
            "PIP_QUIET": "1",
            "PYTHONPATH": str(site),
            "DIFFBLOCKS_PROGRESS": "0",
        }
    )
    return env


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_python_examples_run(page, tmp_path):
    code = [c for lang, c, why in blocks(page) if lang == "python" and why is None]
    if not code:
        pytest.skip("no python examples")
    script = tmp_path / "page.py"
    script.write_text("\n\n".join(code))
    out = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env_for(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, f"{page}:\n{out.stderr[-3000:]}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_shell_examples_run(page, tmp_path):
    code = [c for lang, c, why in blocks(page) if lang == "bash" and why is None]
    if not code:
        pytest.skip("no shell examples")
    env = env_for(tmp_path)
    for folder in ("benchmarks", "plugins"):  # commands written relative to the repository root
        (tmp_path / folder).symlink_to(ROOT / folder)
    for snippet in code:
        out = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", snippet],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert out.returncode == 0, f"{page}: {snippet}\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}"


def test_mkdocs_build_strict(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert (tmp_path / "site" / "index.html").exists()
    assert (tmp_path / "site" / "api" / "index.html").read_text().count("PipelineBlock") > 3
