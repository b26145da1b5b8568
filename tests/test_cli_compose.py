"""compose / validate / run / graph commands, in subprocesses against the installed example plugin."""

import json

from test_cli_plugins import cli


def test_compose_prints_doc_and_saves(tmp_path):
    out = cli("compose", "example.number", "example.add", "--save", str(tmp_path / "p.toml"))
    assert out.returncode == 0, out.stderr
    assert "class SequentialPipelineBlocks" in out.stdout and "value (`float`, *required*)" in out.stdout
    assert 'number = "example.number"' in (tmp_path / "p.toml").read_text()


def test_validate_exit_codes(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(
        json.dumps({"diffblocks_spec": 1, "blocks": {"n": "example.number", "f": "example.format"}})
    )
    out = cli("validate", str(good))
    assert out.returncode == 0 and "valid" in out.stdout and "required: value" in out.stdout
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"diffblocks_spec": 1, "blocks": {"n": "example.numbr", "m": "os:system"}}))
    out = cli("validate", str(bad))
    assert out.returncode == 1
    assert (
        "unknown-name: blocks.n [example.numbr]" in out.stderr
        and "not-a-name: blocks.m [os:system]" in out.stderr
    )


def test_validate_takes_a_registered_name_too():
    out = cli("validate", "example.add_or_multiply")
    assert out.returncode == 0 and out.stdout.startswith("example.add_or_multiply: valid")
    out = cli("validate", "example.add_or_multiplyy")
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "unknown-name" in out.stderr and "Did you mean 'example.add_or_multiply'" in out.stderr


def test_run_with_set_values_output_and_out_file(tmp_path):
    out = cli(
        "run",
        "example.arith",
        "--set",
        "value=2",
        "--set",
        "factor=10",
        "--set",
        'template="{x:.1f}"',
        "--output",
        "text",
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == "30.0"
    out = cli("run", "example.arith", "--set", "value=1", "--output", "x", "--out", str(tmp_path / "x.json"))
    assert json.loads((tmp_path / "x.json").read_text()) == 4.0


def test_run_spec_file_uses_its_inputs(tmp_path):
    spec = tmp_path / "p.toml"
    spec.write_text('diffblocks_spec = 1\nworkflow = "example.arith"\n[inputs]\nvalue = 5\n')
    out = cli("run", str(spec), "--output", "x")
    assert out.returncode == 0, out.stderr and json.loads(out.stdout) == 12.0


def test_missing_input_exits_nonzero_naming_input_and_block():
    out = cli("run", "example.arith")
    assert out.returncode != 0
    assert "'value' is required by block 'number' (Number)" in out.stderr and "--set" in out.stderr
    assert "Traceback" not in out.stderr


def test_set_strings_stay_strings_and_debug_shows_traceback():
    out = cli("run", "example.arith", "--set", "value=abc")
    assert out.returncode != 0 and "abc" in out.stderr
    debug = cli("--debug", "run", "example.arith")
    assert "Traceback" in debug.stderr


def test_graph_mermaid_and_dot():
    mermaid = cli("graph", "example.arith").stdout
    assert mermaid.startswith("flowchart LR") and "n_number -->|x| n_add" in mermaid
    dot = cli("graph", "example.arith", "--format", "dot").stdout
    assert dot.startswith("digraph pipeline") and 'n_add -> n_multiply [label="x"]' in dot


def test_nonexistent_spec_file():
    out = cli("run", "missing/pipe.toml")
    assert out.returncode == 2 and "does not exist" in out.stderr


def test_compose_a_single_leaf_block_saves_like_compose_list(tmp_path):
    spec = tmp_path / "add.toml"
    out = cli("compose", "example.add", "--save", str(spec))
    assert out.returncode == 0, out.stderr
    assert 'add = "example.add"' in spec.read_text()
    run = cli("run", str(spec), "--set", "x=1", "--output", "x")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == 2.0
