"""Every example in docs/ and README.md runs; the site builds with `mkdocs build --strict`.

Python blocks of one page run in order, in one fresh interpreter. Shell blocks of one page run in
order in one bash process that starts as a fresh shell would after the README's first command: the
virtual environment is NOT on PATH (a page enters it with `. .venv/bin/activate`), and the working
folder looks like the repository root (`.venv`, `benchmarks`, `plugins` link to the real ones).
`pip install` there goes to a throw-away target folder (PIP_TARGET) that is put on PYTHONPATH, so a
tutorial can install a plugin without touching this environment. A block may be skipped only with
a `<!-- no-run: reason -->` comment right above it, and only for the reasons listed below. Pages
without examples are not test cases (they would only show up as skips).
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
    r"(?:<!-- no-run: (?P<why>[^>]*) -->\n)?```(?P<lang>python|bash|mermaid)[^\n]*\n(?P<code>.*?)```",
    re.DOTALL,
)
ALLOWED_SKIPS = {"sets up and tests this repository (run by CI itself)", "needs a CUDA GPU"}
ACTIVATE = ". .venv/bin/activate"
# Pages whose examples run the shapes model or benchmark scripts: the second (slow) test phase.
SLOW_PAGES = {
    "README.md",
    "docs/index.md",
    "docs/families/shapes.md",
    "docs/families/sd.md",
    "docs/families/diffusers.md",
    "docs/performance.md",
    "docs/batch.md",
    "docs/serve.md",
}


def blocks(page: Path) -> list[tuple[str, str, str | None]]:
    return [(m["lang"], m["code"], m["why"]) for m in FENCE.finditer(page.read_text())]


def runnable(page: Path, lang: str) -> list[str]:
    return [code for kind, code, why in blocks(page) if kind == lang and why is None]


def pages_with(lang: str) -> list[object]:
    """One test case per page that has runnable ``lang`` examples; slow pages marked slow."""
    cases = []
    for page in PAGES:
        if runnable(page, lang):
            rel = str(page.relative_to(ROOT))
            marks = [pytest.mark.slow] if rel in SLOW_PAGES else []
            cases.append(pytest.param(page, id=rel, marks=marks))
    return cases


def test_skipped_examples_are_justified():
    for page in PAGES:
        for _, _, why in blocks(page):
            assert why is None or why in ALLOWED_SKIPS, f"{page}: unexplained skip {why!r}"


def test_every_page_with_shell_examples_enters_the_environment_first():
    for page in PAGES:
        code = runnable(page, "bash")
        if code:
            assert code[0].lstrip().startswith(ACTIVATE), (
                f"{page}: start its first shell example with {ACTIVATE}"
            )


def fresh_shell_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a new terminal: no virtual environment on PATH, no DIFFBLOCKS_ settings."""
    site = tmp_path / "pip-target"
    venv_bin = os.path.realpath(os.path.dirname(sys.executable))
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DIFFBLOCKS_", "VIRTUAL_ENV", "PYTHONHOME", "PYTEST_"))
    }
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p and os.path.realpath(p) != venv_bin]
    env.update(
        {
            "PATH": os.pathsep.join(path),
            "PIP_TARGET": str(site),
            "PIP_NO_DEPS": "1",
            "PIP_NO_BUILD_ISOLATION": "0",
            "PIP_QUIET": "1",
            "PYTHONPATH": str(site),
            "DIFFBLOCKS_PROGRESS": "0",
        }
    )
    return env


@pytest.mark.parametrize("page", pages_with("python"))
def test_python_examples_run(page, tmp_path):
    script = tmp_path / "page.py"
    script.write_text("\n\n".join(runnable(page, "python")))
    out = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=fresh_shell_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, f"{page}:\n{out.stderr[-3000:]}"


def repository_root_lookalike(tmp_path: Path) -> Path:
    """A folder where commands written for the repository root work, without writing into it."""
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    for folder in ("benchmarks", "plugins"):
        (tmp_path / folder).symlink_to(ROOT / folder)
    return tmp_path


@pytest.mark.parametrize("page", pages_with("bash"))
def test_shell_examples_run(page, tmp_path):
    # one shell per page, as a reader following the page in one terminal
    script = "\n".join(f"{code}\n" for code in runnable(page, "bash"))
    out = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=repository_root_lookalike(tmp_path),
        env=fresh_shell_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, f"{page}:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}"


def test_a_fresh_shell_has_no_diffblocks_on_path(tmp_path):
    # guards the two tests above: without `. .venv/bin/activate` the commands are not found
    out = subprocess.run(
        ["bash", "-c", "command -v diffblocks || echo none"],
        env=fresh_shell_env(tmp_path),
        capture_output=True,
        text=True,
    )
    assert out.stdout.strip() == "none"


def test_sd_page_shows_the_graph_that_the_cli_prints():
    page = ROOT / "docs" / "families" / "sd.md"
    shown = [code for kind, code, _ in blocks(page) if kind == "mermaid"]
    printed = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "diffblocks"), "graph", "sd.text2img"],
        capture_output=True,
        text=True,
        timeout=300,
        env={k: v for k, v in os.environ.items() if not k.startswith("DIFFBLOCKS_")},
    )
    assert printed.returncode == 0, printed.stderr
    assert shown and shown[0].strip() == printed.stdout.strip(), "regenerate it: diffblocks graph sd.text2img"


def test_no_placeholder_links():
    for path in [*PAGES, ROOT / "mkdocs.yml"]:
        assert "example.invalid" not in path.read_text(), path


def test_spec_file_format_documents_every_key():
    from diffblocks._compose import _specfile

    text = (ROOT / "docs" / "composing.md").read_text()
    keys = _specfile.TOP_KEYS | _specfile.NODE_KEYS | _specfile.COMPONENT_KEYS
    assert keys, "the spec-file key sets moved"
    missing = sorted(k for k in keys if f"`{k}`" not in text)
    assert not missing, f"docs/composing.md does not describe spec-file keys {missing}"


@pytest.mark.slow
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
    sd = (tmp_path / "site" / "families" / "sd" / "index.html").read_text()
    assert '<pre class="mermaid"><code>flowchart LR' in sd  # rendered by mkdocs-material
