"""The `diffblocks` console script, run in subprocesses against the installed example plugin."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from diffblocks.testing import write_distribution

EXE = shutil.which("diffblocks", path=os.path.dirname(sys.executable)) or "diffblocks"


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("DIFFBLOCKS_")}
    full_env.update(env or {})
    return subprocess.run([EXE, *args], capture_output=True, text=True, env=full_env, timeout=120)


def test_plugins_list_json_has_the_documented_keys():
    out = cli("plugins", "list", "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    example = next(r for r in rows if r["distribution"] == "diffblocks-example")
    assert set(example) == {"name", "distribution", "version", "status", "error"}
    assert example == {
        "name": "example",
        "distribution": "diffblocks-example",
        "version": "0.1.0",
        "status": "loaded",
        "error": None,
    }


def test_blocks_list_json_one_object_per_claim():
    rows = json.loads(cli("blocks", "list", "--json").stdout)
    by_name = {r["name"]: r for r in rows}
    assert set(by_name["example.add"]) == {
        "name",
        "distribution",
        "version",
        "target",
        "imported",
        "conflict",
    }
    assert by_name["example.add"]["target"] == "diffblocks_example.blocks:Add"
    assert by_name["example.arith"]["distribution"] == "diffblocks-example"
    assert not any(r["conflict"] for r in rows)


def test_blocks_list_table_is_readable():
    out = cli("blocks", "list")
    assert out.stdout.splitlines()[0].split()[:3] == ["NAME", "DISTRIBUTION", "VERSION"]
    assert "example.multiply" in out.stdout


def test_blocks_show_prints_doc_and_provider():
    out = cli("blocks", "show", "example.arith")
    assert out.returncode == 0
    assert "provided by diffblocks-example 0.1.0" in out.stdout
    assert "value (`float`, *required*)" in out.stdout and "text (`str`)" in out.stdout


def test_unknown_block_is_one_clear_line_without_traceback():
    out = cli("blocks", "show", "example.ad")
    assert out.returncode == 2
    assert "Did you mean 'example.add'" in out.stderr and "Traceback" not in out.stderr


def test_listing_works_with_every_plugin_disabled():
    rows = json.loads(cli("plugins", "list", "--json", env={"DIFFBLOCKS_PLUGINS": ""}).stdout)
    assert {r["status"] for r in rows} == {"disabled"}
    assert json.loads(cli("blocks", "list", "--json", env={"DIFFBLOCKS_PLUGINS": ""}).stdout) == []


def test_doctor_reports_failures_conflicts_and_torch(tmp_path):
    write_distribution(
        tmp_path,
        "bad-plugin",
        hooks={"bad": "bad_mod"},
        files={"bad_mod.py": "raise ImportError('no such thing')"},
    )
    write_distribution(
        tmp_path,
        "torchy-plugin",
        blocks={"torchy.x": "torchy_mod:X"},
        files={"torchy_mod.py": "import torch\nX = 1"},
    )
    write_distribution(
        tmp_path, "dupe-plugin", blocks={"example.add": "dupe_mod:Add"}, files={"dupe_mod.py": "Add = 1"}
    )
    out = cli("doctor", "--json", env={"PYTHONPATH": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    rows = {r["distribution"]: r for r in report["plugins"]}
    assert "no such thing" in rows["bad-plugin"]["problems"] and rows["bad-plugin"]["status"] == "failed"
    assert rows["torchy-plugin"]["imports_torch"] == "yes"
    assert rows["diffblocks-example"]["imports_torch"] == "no"
    assert float(rows["diffblocks-example"]["import_ms"]) > 0
    assert sorted(report["conflicts"]["example.add"]) == ["diffblocks-example", "dupe-plugin"]
    human = cli("doctor", env={"PYTHONPATH": str(tmp_path)}).stdout
    assert "example.add: claimed by" in human
