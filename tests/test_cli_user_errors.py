"""User errors of run, batch, serve and compose: one `diffblocks: error:` line that names the flag,
value or file the mistake came from and the fix, exit status 2, never a traceback. Bugs keep
theirs. Every case here fails before any model runs."""

from __future__ import annotations

import json
import os

import pytest
from diffblocks._front._png import save_png
from PIL import Image
from test_cli_errors import fails
from test_cli_plugins import cli

SEED_MAX = 2**64 - 1


# -- reserved keywords of the pipeline call ---------------------------------------------------------
def test_set_state_is_reserved():
    message = fails("run", "example.arith", "--set", "value=1", "--set", "state=1")
    assert "--set state: 'state' is reserved" in message


def test_set_output_is_reserved_and_points_to_the_output_flag():
    message = fails("run", "example.arith", "--set", "value=1", "--set", "output=x")
    assert "--set output: 'output' is reserved" in message and "use --output NAME" in message
    assert "ModularPipeline(" not in message  # not the pipeline's repr


@pytest.mark.parametrize("name", ["state", "output"])
def test_batch_set_refuses_reserved_names_too(tmp_path, name):
    rows = tmp_path / "one.jsonl"
    rows.write_text('{"prompt": "a red circle"}\n')
    message = fails(
        "batch", "shapes.text2img", "--inputs", str(rows), "--out", str(tmp_path / "o"), "--set", f"{name}=1"
    )
    assert f"--set {name}: {name!r} is reserved" in message
    assert not (tmp_path / "o").exists()


# -- devices -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("device", ["foo", "cuda:99"])
def test_batch_checks_the_device_as_run_does(tmp_path, device):
    rows = tmp_path / "one.jsonl"
    rows.write_text('{"prompt": "a red circle"}\n')
    message = fails(
        "batch", "shapes.text2img", "--inputs", str(rows), "--out", str(tmp_path / "o"), "--device", device
    )
    assert f"--device {device}:" in message and not (tmp_path / "o").exists()


def test_serve_checks_the_device_before_listening():
    out = cli("serve", "example.arith", "--port", "0", "--device", "foo")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "diffblocks: error: --device foo: unknown device" in out.stderr
    assert "listening" not in out.stderr


# -- serve's numeric options --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--port", "99999"], "argument --port: must be 0 to 65535"),
        (["--port", "-1"], "argument --port: must be 0 to 65535"),
        (["--max-wait-ms", "nan"], "argument --max-wait-ms: must be a finite number >= 0"),
        (["--max-wait-ms", "inf"], "argument --max-wait-ms: must be a finite number >= 0"),
        (["--max-wait-ms", "-1"], "argument --max-wait-ms: must be a finite number >= 0"),
        (["--max-images", "0"], "argument --max-images: must be at least 1"),
    ],
)
def test_serve_options_are_checked(args, words):
    message = fails("serve", "example.arith", *args)
    assert words in message and "--help" in message


# -- --from-png records ------------------------------------------------------------------------------
BASE = {"format": 1, "block": "example.arith", "inputs": {"value": 1}, "seed": None, "output": "text"}


def png_with(tmp_path, **changes: object) -> str:
    path = tmp_path / "x.png"
    save_png(Image.new("RGB", (4, 4)), path, {**BASE, **changes})
    return str(path)


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"inputs": [1, 2]}, "the diffblocks record's 'inputs' must be an object"),
        ({"output": 5}, "the diffblocks record's 'output' must be an output name"),
        ({"plugins": [1]}, "the diffblocks record's 'plugins' must be an object"),
        ({"block": 3}, "the diffblocks record's 'block' must be a registered block name"),
        ({"device": 0}, "the diffblocks record's 'device' must be a device name"),
        ({"seed": -1}, "the diffblocks record's 'seed': a seed must be a whole number"),
        ({"format": "1"}, "the diffblocks record's 'format' must be a whole number"),
        ({"inputs": {"value": 1, "state": 2}}, "the diffblocks record's inputs.state: 'state' is reserved"),
    ],
)
def test_a_record_of_the_wrong_shape_is_named_by_file_and_key(tmp_path, changes, words):
    png = png_with(tmp_path, **changes)
    message = fails("run", "--from-png", png)
    assert message.startswith(f"diffblocks: error: {png}: ") and words in message


def test_a_recorded_bad_value_names_the_png_not_set(tmp_path):
    png = png_with(tmp_path, inputs={"value": float("inf")})  # written as JSON's Infinity
    message = fails("run", "--from-png", png)
    assert f"{png}: the diffblocks record's inputs.value" in message and "not a finite number" in message
    assert "--set" not in message


def test_a_recorded_output_names_the_png_not_the_output_flag(tmp_path):
    png = png_with(tmp_path, output="nope")
    message = fails("run", "--from-png", png)
    assert f"{png}: the diffblocks record's 'output' 'nope': not an output" in message
    assert "--output nope" not in message


def test_a_recorded_spec_names_the_png_not_a_temporary_file(tmp_path):
    spec = {"diffblocks_spec": 1, "workflow": "example.arith", "components": {"foo": {"path": "/nope"}}}
    png = png_with(tmp_path, block=None, spec=spec, spec_folder=str(tmp_path))
    message = fails("run", "--from-png", png)
    assert f"{png}: the diffblocks record's 'spec'" in message and "components.foo" in message
    assert "spec.json" not in message


def test_a_recorded_device_names_the_png(tmp_path):
    png = png_with(tmp_path, device="toaster")
    message = fails("run", "--from-png", png)
    assert f"{png}: the diffblocks record's 'device' 'toaster': unknown device" in message


# -- run --out '' ------------------------------------------------------------------------------------
def test_an_empty_out_is_refused_not_ignored():
    message = fails("run", "example.arith", "--set", "value=1", "--output", "text", "--out", "")
    assert "--out '': give a file name" in message


# -- batch: one --set parser, one seed rule ----------------------------------------------------------
@pytest.mark.parametrize("value", ["Infinity", "NaN", "-Infinity", "1e999", "[1, NaN]"])
def test_batch_set_refuses_non_finite_numbers(tmp_path, value):
    rows = tmp_path / "one.jsonl"
    rows.write_text('{"prompt": "a red circle"}\n')
    out = tmp_path / "o"
    message = fails(
        "batch",
        "shapes.text2img",
        "--inputs",
        str(rows),
        "--out",
        str(out),
        "--set",
        f"guidance_scale={value}",
    )
    assert "--set guidance_scale" in message and "not a finite number" in message
    assert not (out / "manifest.jsonl").exists()


@pytest.mark.parametrize("seed", ["-5", str(SEED_MAX + 1)])
def test_batch_seed_errors_name_the_flag_and_the_limit(tmp_path, seed):
    rows = tmp_path / "one.jsonl"
    rows.write_text('{"prompt": "a red circle"}\n')
    message = fails(
        "batch", "shapes.text2img", "--inputs", str(rows), "--out", str(tmp_path / "o"), "--seed", seed
    )
    assert f"--seed {seed}:" in message and f"2**64 - 1 ({SEED_MAX})" in message
    assert "line 1" not in message  # the file is not to blame


def test_batch_seeds_follow_runs_rule_and_a_seed_past_the_end_blames_the_flag(tmp_path):
    from diffblocks.batch import read_rows

    assert read_rows([{"prompt": "a"}], seed=2**63)[0].seed == 2**63  # run accepts it: so does batch
    assert read_rows([{"prompt": "a", "seed": SEED_MAX}])[0].seed == SEED_MAX
    rows = tmp_path / "two.jsonl"
    rows.write_text('{"prompt": "a"}\n{"prompt": "b"}\n')
    message = fails(
        "batch",
        "shapes.text2img",
        "--inputs",
        str(rows),
        "--out",
        str(tmp_path / "o"),
        "--seed",
        str(SEED_MAX),
    )
    assert f"--seed {SEED_MAX}:" in message and "line 2 would get seed" in message


# -- compose --save ----------------------------------------------------------------------------------
def test_compose_save_never_replaces_a_file_without_force(tmp_path):
    target = tmp_path / "p.json"
    target.write_text("keep me")
    message = fails("compose", "example.add", "--save", str(target))
    assert f"--save {target}: a file of that name exists; add --force" in message
    assert target.read_text() == "keep me"
    out = cli("compose", "example.add", "--save", str(target), "--force")
    assert out.returncode == 0, out.stderr
    assert json.loads(target.read_text())["diffblocks_spec"] == 1


def test_compose_save_replaces_a_symlink_and_never_writes_through_it(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    link = tmp_path / "p.json"
    link.symlink_to(victim)
    assert "a symlink of that name exists" in fails("compose", "example.add", "--save", str(link))
    out = cli("compose", "example.add", "--save", str(link), "--force")
    assert out.returncode == 0, out.stderr
    assert victim.read_text() == "precious" and not link.is_symlink()
    assert json.loads(link.read_text())["diffblocks_spec"] == 1


def test_compose_save_checks_the_destination_before_printing_anything(tmp_path):
    missing = os.path.join(str(tmp_path), "nonexist", "a.json")
    out = cli("compose", "example.add", "--save", missing)
    assert out.returncode == 2 and out.stdout == "" and "Traceback" not in out.stderr
    assert f"diffblocks: error: --save {missing}: the folder" in out.stderr and "does not exist" in out.stderr
    assert "use a .toml or .json file name" in fails(
        "compose", "example.add", "--save", str(tmp_path / "a.txt")
    )


# -- bugs stay visible ----------------------------------------------------------------------------------
def test_an_internal_error_keeps_its_traceback(monkeypatch):
    from diffblocks import cli as cli_module
    from diffblocks._front import _cli_compose

    def broken(args: object) -> int:
        raise AttributeError("a bug, not a user error")

    monkeypatch.setattr(_cli_compose, "cmd_graph", broken)
    with pytest.raises(AttributeError, match="a bug"):
        cli_module.main(["graph", "example.arith"])
