"""`diffblocks new-plugin`: the scaffold installs with pip, its tests pass, its blocks are listed."""

import json
import os
import subprocess
import sys

from test_cli_plugins import EXE, cli


def test_scaffold_installs_tests_and_lists(tmp_path):
    out = cli("new-plugin", "acme-blocks", "--dir", str(tmp_path))
    assert out.returncode == 0, out.stderr
    root = tmp_path / "acme-blocks"
    assert (root / "pyproject.toml").exists() and (root / "tests" / "test_acme_blocks.py").exists()
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(site),
            str(root),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("DIFFBLOCKS_PLUGINS", None)
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(root / "tests")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "2 passed" in tests.stdout
    listed = json.loads(
        subprocess.run(
            [EXE, "blocks", "list", "--json"], capture_output=True, text=True, env=env, timeout=120
        ).stdout
    )
    ours = {r["name"]: r for r in listed if r["distribution"] == "acme-blocks"}
    assert set(ours) == {"acme.greet", "acme.shout"}
    assert not ours["acme.greet"]["imported"]
    run = subprocess.run(
        [EXE, "run", "acme.greet", "--set", "name=Ada", "--output", "greeting"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert json.loads(run.stdout) == "Hello, Ada!"


def test_existing_folder_and_bad_names_are_refused(tmp_path):
    assert cli("new-plugin", "acme", "--dir", str(tmp_path)).returncode == 0
    again = cli("new-plugin", "acme", "--dir", str(tmp_path))
    assert again.returncode == 2 and "already exists" in again.stderr
    bad = cli("new-plugin", "42things", "--dir", str(tmp_path))
    assert bad.returncode == 2 and "must start with a letter" in bad.stderr
    path = cli("new-plugin", "plugins/widgets", "--dir", str(tmp_path))
    assert path.returncode == 2 and "Traceback" not in path.stderr
    assert "looks like a path" in path.stderr and "new-plugin widgets --dir plugins" in path.stderr
    assert not (tmp_path / "plugins-widgets").exists()


def test_names_that_would_shadow_or_clash_are_refused(tmp_path):
    for name, why in (
        ("json", "standard-library module 'json'"),
        ("pytest", "installed module 'pytest'"),
        ("class", "Python keyword"),
        ("diffblocks-example", "installed plugin diffblocks-example"),
        ("example", "installed plugin diffblocks-example"),
    ):
        out = cli("new-plugin", name, "--dir", str(tmp_path))
        assert out.returncode == 2 and why in out.stderr, (name, out.stderr)
        assert "Traceback" not in out.stderr
    assert list(tmp_path.iterdir()) == []


def test_next_step_installs_the_created_folder(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIFFBLOCKS_")}
    out = subprocess.run(
        [EXE, "new-plugin", "acme-blocks"], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "pip install ./acme-blocks " in out.stdout  # not `pip install acme-blocks` (the index)
