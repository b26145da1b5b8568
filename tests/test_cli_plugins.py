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
    assert out.returncode == 1, out.stderr  # issue #11: non-zero when a plugin failed (was 0)
    report = json.loads(out.stdout)
    rows = {r["distribution"]: r for r in report["plugins"]}
    assert "no such thing" in rows["bad-plugin"]["problems"] and rows["bad-plugin"]["status"] == "failed"
    assert rows["torchy-plugin"]["imports_torch"] == "yes"
    assert rows["diffblocks-example"]["imports_torch"] == "no"
    assert float(rows["diffblocks-example"]["import_ms"]) > 0
    assert sorted(report["conflicts"]["example.add"]) == ["diffblocks-example", "dupe-plugin"]
    human = cli("doctor", env={"PYTHONPATH": str(tmp_path)}).stdout
    assert "example.add: claimed by" in human


# -- issue #11 "Plugins" and #12 ----------------------------------------------------------------

NOISY_BLOCK = """
print("noise from the block module")
from diffblocks import InputParam, OutputParam, PipelineBlock

class Double(PipelineBlock):
    @property
    def inputs(self):
        return [InputParam("x", int, required=True)]
    @property
    def intermediate_outputs(self):
        return [OutputParam("y", int)]
    def __call__(self, components, state):
        bs = self.get_block_state(state)
        bs.y = 2 * bs.x
        self.set_block_state(state, bs)
        return components, state
"""


def test_plugin_calling_sys_exit_is_a_failed_plugin_not_the_end(tmp_path):
    write_distribution(
        tmp_path,
        "exit-plugin",
        hooks={"exiter": "exit_mod"},
        files={"exit_mod.py": "import sys\nsys.exit(0)"},
    )
    out = cli("plugins", "list", "--json", env={"PYTHONPATH": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    rows = {r["distribution"]: r for r in json.loads(out.stdout)}
    assert rows["exit-plugin"]["status"] == "failed" and rows["exit-plugin"]["error"].startswith("SystemExit")
    assert rows["diffblocks-example"]["status"] == "loaded"
    listed = cli("blocks", "list", "--json", env={"PYTHONPATH": str(tmp_path)})
    assert "example.add" in {r["name"] for r in json.loads(listed.stdout)}


def test_keyboard_interrupt_while_loading_names_the_plugin(tmp_path):
    write_distribution(
        tmp_path, "kbd-plugin", hooks={"kbd": "kbd_mod"}, files={"kbd_mod.py": "raise KeyboardInterrupt"}
    )
    out = cli("blocks", "list", env={"PYTHONPATH": str(tmp_path)})
    assert out.returncode == 130
    assert (
        "interrupted while loading plugin 'kbd' (kbd-plugin 1.0)" in out.stderr
        and "Traceback" not in out.stderr
    )


def test_plugin_stdout_cannot_corrupt_json_or_run_output(tmp_path):
    write_distribution(
        tmp_path,
        "noisy-plugin",
        hooks={"noisy": "noisy_hooks"},
        blocks={"noisy.double": "noisy_blocks:Double"},
        files={
            "noisy_hooks.py": "print('noise from the hook module')",
            "noisy_blocks.py": NOISY_BLOCK,
        },
    )
    env = {"PYTHONPATH": str(tmp_path)}
    listed = cli("blocks", "list", "--json", env=env)
    assert "noisy.double" in {r["name"] for r in json.loads(listed.stdout)}
    assert "noise from the hook module" in listed.stderr
    run = cli("run", "noisy.double", "--set", "x=21", "--output", "y", env=env)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == 42 and "noise from the block module" in run.stderr


def test_failed_plugin_block_is_reported_with_its_error(tmp_path):
    write_distribution(
        tmp_path,
        "broken-plugin",
        hooks={"broken": "broken_mod"},
        blocks={"broken.thing": "broken_mod:Thing"},
        files={"broken_mod.py": "raise ImportError('needs libfoo')"},
    )
    out = cli("blocks", "show", "broken.thing", env={"PYTHONPATH": str(tmp_path)})
    assert out.returncode == 2
    assert "broken-plugin (failed to load): ImportError: needs libfoo" in out.stderr
    assert "install it or enable it" not in out.stderr


def test_doctor_imports_each_enabled_plugin_once_and_never_a_disabled_one(tmp_path):
    log = tmp_path / "imports.log"
    record = f"with open({str(log)!r}, 'a') as fh:\n    fh.write(__name__ + '\\n')\n"
    write_distribution(tmp_path, "count-plugin", hooks={"count": "count_mod"}, files={"count_mod.py": record})
    write_distribution(
        tmp_path,
        "off-plugin",
        hooks={"off": "off_mod"},
        blocks={"off.x": "off_mod:X"},
        files={"off_mod.py": record},
    )
    env = {"PYTHONPATH": str(tmp_path), "DIFFBLOCKS_PLUGINS": "count-plugin"}
    out = cli("doctor", "--json", env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert log.read_text().splitlines() == ["count_mod"]
    rows = {r["distribution"]: r for r in json.loads(out.stdout)["plugins"]}
    assert rows["count-plugin"]["status"] == "loaded" and rows["off-plugin"]["status"] == "disabled"
    assert "[1/1] loading count-plugin" in out.stderr  # progress while it works


def test_doctor_exits_non_zero_on_a_failed_hook_and_its_summary_agrees(tmp_path):
    hook = "from diffblocks import hookimpl\n@hookimpl\ndef register_blocks(registry):\n    raise ValueError('bad hook')\n"
    write_distribution(
        tmp_path, "hookfail-plugin", hooks={"hookfail": "hookfail_mod"}, files={"hookfail_mod.py": hook}
    )
    env = {"PYTHONPATH": str(tmp_path), "DIFFBLOCKS_PLUGINS": "hookfail-plugin,diffblocks-example"}
    out = cli("doctor", env=env)
    assert out.returncode == 1
    table = out.stdout.split("\n\n")[0].splitlines()[1:]
    statuses = [line.split()[2] for line in table]
    summary = out.stdout.strip().splitlines()[-1]
    assert (
        f"{len(table)} plugin(s): {statuses.count('loaded')} loaded, {statuses.count('failed')} failed"
        in summary
    )
    assert statuses.count("failed") == 1 and "ValueError: bad hook" in out.stdout


def test_doctor_shows_family_and_loader_conflicts(tmp_path):
    src = (
        "from diffblocks import ModelFamily, hookimpl\n"
        "@hookimpl\ndef register_families(registry):\n    registry.register(ModelFamily('dup'))\n"
        "@hookimpl\ndef register_component_loaders(registry):\n    registry.register('Vocab', print)\n"
    )
    for dist, mod in (("fam-one", "fam_one"), ("fam-two", "fam_two")):
        write_distribution(tmp_path, dist, hooks={mod: mod}, files={f"{mod}.py": src})
    out = cli("doctor", "--json", env={"PYTHONPATH": str(tmp_path), "DIFFBLOCKS_PLUGINS": "fam-one,fam-two"})
    assert out.returncode == 1
    report = json.loads(out.stdout)
    assert report["family_conflicts"] == {"dup": ["fam-one", "fam-two"]}
    assert report["loader_conflicts"] == {"Vocab": ["fam-one", "fam-two"]}


def test_doctor_fails_a_plugin_whose_hook_name_is_misspelled(tmp_path):
    src = "from diffblocks import hookimpl\n@hookimpl\ndef register_block(registry):\n    registry.register('typo.x', 'typo_mod:X')\n"
    write_distribution(tmp_path, "typo-plugin", hooks={"typo": "typo_mod"}, files={"typo_mod.py": src})
    env = {"PYTHONPATH": str(tmp_path), "DIFFBLOCKS_PLUGINS": "typo-plugin"}
    out = cli("doctor", "--json", env=env)
    assert out.returncode == 1, out.stdout + out.stderr
    row = {r["distribution"]: r for r in json.loads(out.stdout)["plugins"]}["typo-plugin"]
    assert row["status"] == "failed"
    assert "unknown hook 'register_block' (did you mean 'register_blocks'" in row["problems"]
    listed = {r["distribution"]: r for r in json.loads(cli("plugins", "list", "--json", env=env).stdout)}
    assert "unknown hook 'register_block'" in listed["typo-plugin"]["error"]


def test_block_of_a_disabled_plugin_names_the_plugin_and_diffblocks_plugins():
    env = {"DIFFBLOCKS_PLUGINS": "-diffblocks-example"}
    run = cli("run", "example.arith", "--set", "value=1", env=env)
    assert run.returncode == 2
    assert "It is provided by diffblocks-example (disabled by DIFFBLOCKS_PLUGINS)" in run.stderr
    show = cli("blocks", "show", "example.arith", env=env)
    assert show.returncode == 2 and "Traceback" not in show.stderr
    assert "remove '-diffblocks-example' from DIFFBLOCKS_PLUGINS" in show.stderr


def test_misspelled_distribution_in_diffblocks_plugins_is_named_by_lookups_and_doctor():
    env = {"DIFFBLOCKS_PLUGINS": "diffblocks-exmaple"}
    hint = "DIFFBLOCKS_PLUGINS names 'diffblocks-exmaple', which is no installed plugin distribution (did you mean the distribution 'diffblocks-example'?)"
    show = cli("blocks", "show", "example.add", env=env)
    assert show.returncode == 2 and hint in show.stderr
    doctor = cli("doctor", "--json", env=env)
    assert doctor.returncode == 1
    report = json.loads(doctor.stdout)
    assert report["notes"] == [hint] and not report["ok"]
    text = cli("doctor", env=env)
    assert text.returncode == 1 and f"Problem: {hint}" in text.stdout
    assert text.stdout.rstrip().endswith("; 1 unknown DIFFBLOCKS_PLUGINS item(s).")
