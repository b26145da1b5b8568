"""Spec files a user may get from someone else: dtype names only, component paths confined to the
spec file's folder, hostile or malformed content reported with file and location (never a
traceback), and `diffblocks validate` refusing everything `diffblocks run` would."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from diffblocks import CompositionError, load_spec, save_spec
from test_cli_plugins import cli

SHAPES = 'diffblocks_spec = 1\nworkflow = "shapes.text2img"\n'


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path, **kwargs) -> CompositionError:
    with pytest.raises(CompositionError) as info:
        load_spec(path, **kwargs)
    err = info.value
    assert err.source == str(path) and str(path) in str(err)
    return err


def shapes_weights() -> Path:
    import diffblocks_shapes

    return Path(diffblocks_shapes.WEIGHTS)


# -- dtype ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["has_mps", "manual_seed", "Tensor", "load", "float16 ", 16])
def test_dtype_accepts_only_torch_dtype_names(tmp_path, dtype):
    (tmp_path / "model" / "unet").mkdir(parents=True)
    value = json.dumps(dtype)
    spec = write(tmp_path / "p.toml", SHAPES + f'[components.unet]\npath = "model"\ndtype = {value}\n')
    err = problems(spec)
    assert [(p.path, p.param) for p in err.problems] == [("components.unet", "dtype")]
    assert "bfloat16" in str(err)  # the message lists what is allowed


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
def test_dtype_names_load(tmp_path, dtype):
    (tmp_path / "model" / "unet").mkdir(parents=True)
    spec = write(tmp_path / "p.toml", SHAPES + f'[components.unet]\npath = "model"\ndtype = "{dtype}"\n')
    assert load_spec(spec).origin.spec_components["unet"]["dtype"] == dtype


def test_pipeline_refuses_a_torch_attribute_as_dtype_from_any_source():
    import dataclasses

    from diffblocks import ComponentLoadError, compose

    blocks = compose("shapes.text2img")
    how = {"path": str(shapes_weights()), "dtype": "has_mps"}
    blocks.origin = dataclasses.replace(blocks.origin, spec_components={"unet": how})
    with pytest.raises(ComponentLoadError, match="'has_mps' is not a torch dtype name"):
        blocks.init_pipeline()


# -- component paths -------------------------------------------------------------------------------
def test_component_paths_resolve_from_the_spec_files_folder(tmp_path, monkeypatch):
    project = tmp_path / "project"
    weights = project / "weights"
    shutil.copytree(shapes_weights() / "scheduler", weights / "scheduler")
    config = json.loads((weights / "scheduler" / "scheduler_config.json").read_text())
    config["num_train_timesteps"] = 777  # recognisable: proves this copy was loaded
    (weights / "scheduler" / "scheduler_config.json").write_text(json.dumps(config))
    spec = write(project / "shapes.toml", SHAPES + '[components.scheduler]\npath = "weights"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    pipe = load_spec(spec).init_pipeline()
    assert pipe.scheduler.config.num_train_timesteps == 777
    # saving next to the weights writes the path relative again
    saved = save_spec(load_spec(spec), project / "again.toml")
    assert 'path = "weights"' in saved.read_text()


@pytest.mark.parametrize(
    ("path", "subfolder", "code", "key"),
    [
        ("../outside", None, "outside-folder", "path"),
        ("model/../../outside", None, "outside-folder", "path"),
        ("ABSOLUTE_OUTSIDE", None, "outside-folder", "path"),
        ("model", "../../outside", "outside-folder", "subfolder"),
        ("link", None, "outside-folder", "path"),
        ("missing", None, "missing-folder", "path"),
        ("model", "nope", "missing-folder", "subfolder"),
        ("file.txt", None, "missing-folder", "path"),
    ],
)
def test_component_paths_must_stay_inside_the_spec_files_folder(tmp_path, path, subfolder, code, key):
    outside = tmp_path / "outside"
    (outside / "unet").mkdir(parents=True)
    project = tmp_path / "project"
    (project / "model" / "unet").mkdir(parents=True)
    (project / "file.txt").write_text("x")
    os.symlink(outside, project / "link")
    if path == "ABSOLUTE_OUTSIDE":
        path = str(outside)
    table = f'[components.unet]\npath = "{path}"\n' + (f'subfolder = "{subfolder}"\n' if subfolder else "")
    spec = write(project / "p.toml", SHAPES + table)
    err = problems(spec)
    assert [(p.code, p.path, p.param) for p in err.problems] == [(code, "components.unet", key)]
    assert repr(path) in str(err)  # names the path as written
    if path == "link":  # the CLI says the same, without a traceback (one case: subprocesses are slow)
        out = cli("run", str(spec), "--set", "prompt=a red circle")
        assert out.returncode != 0 and "Traceback" not in out.stderr
        assert str(spec) in out.stderr and "components.unet" in out.stderr and code in out.stderr


def test_component_root_widens_where_paths_may_point(tmp_path):
    (tmp_path / "models" / "unet").mkdir(parents=True)
    (tmp_path / "specs").mkdir()
    spec = write(tmp_path / "specs" / "p.toml", SHAPES + '[components.unet]\npath = "../models"\n')
    problems(spec)
    blocks = load_spec(spec, component_root=tmp_path)
    assert blocks.origin.spec_components["unet"]["path"] == os.path.realpath(tmp_path / "models")
    # from the command line, DIFFBLOCKS_COMPONENT_ROOT widens it the same way
    refused = cli("validate", str(spec))
    assert refused.returncode == 1 and "outside-folder" in refused.stderr
    assert "DIFFBLOCKS_COMPONENT_ROOT" in refused.stderr and "Traceback" not in refused.stderr
    allowed = cli("validate", str(spec), env={"DIFFBLOCKS_COMPONENT_ROOT": str(tmp_path)})
    assert allowed.returncode == 0, allowed.stderr
    # it widens: weights next to the spec stay allowed when the root names another folder
    (tmp_path / "specs" / "unet").mkdir()
    beside = write(tmp_path / "specs" / "q.toml", SHAPES + '[components.unet]\npath = "unet"\n')
    elsewhere = cli("validate", str(beside), env={"DIFFBLOCKS_COMPONENT_ROOT": str(tmp_path / "models")})
    assert elsewhere.returncode == 0, elsewhere.stderr
    assert load_spec(beside, component_root=tmp_path / "models").origin.spec_components["unet"]["path"] == (
        os.path.realpath(tmp_path / "specs" / "unet")
    )


# -- hostile and malformed content ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "text", "code", "where"),
    [
        ("deep.json", "[" * 100_000 + "]" * 100_000, "too-deep", "line 1, column 65"),
        ("deep.toml", "x = " + "[" * 100_000 + "]" * 100_000, "too-deep", "line 1, column 69"),
        ("deepobj.json", '{"a":' * 5000 + "1" + "}" * 5000, "too-deep", "line 1, column"),
        (
            "dotted.toml",
            'diffblocks_spec = 1\nworkflow = "example.arith"\n[inputs]\n' + ".".join(["k"] * 3000) + " = 1\n",
            "too-deep",
            "inputs.k.k",
        ),
        (
            "digits.json",
            '{"diffblocks_spec": 1, "inputs": {"value": ' + "9" * 5000 + "}}",
            "too-large",
            "inputs.value",
        ),
        ("digits.toml", "diffblocks_spec = 1\n[inputs]\nvalue = " + "9" * 5000 + "\n", "too-large", ""),
        (
            "big.toml",
            "diffblocks_spec = 1\n[inputs]\nvalue = 99999999999999999999\n",
            "too-large",
            "inputs.value",
        ),
        ("big.json", '{"inputs": {"sizes": [1, -99999999999999999999]}}', "too-large", "inputs.sizes[1]"),
        ("nan.toml", "diffblocks_spec = 1\n[inputs]\nvalue = nan\n", "not-finite", "inputs.value"),
        ("inf.toml", "diffblocks_spec = 1\n[inputs]\nvalue = -inf\n", "not-finite", "inputs.value"),
        ("nan.json", '{"inputs": {"value": NaN}}', "not-finite", "inputs.value"),
        ("inf.json", '{"inputs": {"value": 1e999}}', "not-finite", "inputs.value"),
    ],
)
def test_hostile_content_is_one_clear_error_with_file_and_location(tmp_path, name, text, code, where):
    spec = write(tmp_path / name, text)
    err = problems(spec)
    assert err.codes[0] == code and err.problems[0].path.startswith(where)
    if name in ("deep.toml", "digits.json", "nan.json"):  # the CLI too (a few: subprocesses are slow)
        out = cli("validate", str(spec))
        assert out.returncode == 1 and "Traceback" not in out.stderr
        assert str(spec) in out.stderr and code in out.stderr


@pytest.mark.parametrize(
    ("text", "where", "param"),
    [
        ('diffblocks_spec = true\nworkflow = "example.arith"\n', "diffblocks_spec", None),
        ('diffblocks_spec = "1"\nworkflow = "example.arith"\n', "diffblocks_spec", None),
        ('diffblocks_spec = 1\nworkflow = "example.arith"\ndescription = 5\n', "description", None),
        ('diffblocks_spec = 1\nworkflow = "example.arith"\ninputs = [1]\n', "inputs", None),
        ("diffblocks_spec = 1\nworkflow = 3\n", "workflow", None),
        (SHAPES + "[components.unet]\npath = 3\n", "components.unet", "path"),
        (SHAPES + '[components.unet]\npath = "m"\nsubfolder = ["unet"]\n', "components.unet", "subfolder"),
        (SHAPES + '[components.unet]\npath = "m"\nvariant = 1\n', "components.unet", "variant"),
    ],
)
def test_wrong_types_name_file_and_location(tmp_path, text, where, param):
    (tmp_path / "m" / "unet").mkdir(parents=True)
    err = problems(write(tmp_path / "p.toml", text))
    assert (err.problems[0].path, err.problems[0].param) == (where, param), err


@pytest.mark.parametrize("ext", ["toml", "json"])
def test_invalid_utf8_names_the_file(tmp_path, ext):
    spec = tmp_path / f"p.{ext}"
    spec.write_bytes(b'diffblocks_spec = 1\nworkflow = "example.arith"\n# caf\xe9\n')
    err = problems(spec)
    assert err.codes == ["encoding"] and "line 3" in err.problems[0].path and "UTF-8" in str(err)
    if ext == "toml":
        out = cli("validate", str(spec))
        assert out.returncode == 1 and str(spec) in out.stderr and "Traceback" not in out.stderr


# -- validate runs run's checks --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("table", "code", "words"),
    [
        ("[inputs]\nvalue = 2\nfactr = 3\n", "unknown-input", "Did you mean 'factor'"),
        ('[inputs]\nvalue = "21"\n', "wrong-value", "expected float"),
        ("[inputs]\nvalue = 2\ntemplate = 7\n", "wrong-value", "expected str"),
        ('[components.unet]\npath = "."\n', "unknown-component", "remove [components.unet]"),
    ],
)
def test_validate_refuses_what_run_refuses(tmp_path, table, code, words):
    spec = write(tmp_path / "p.toml", 'diffblocks_spec = 1\nworkflow = "example.arith"\n' + table)
    out = cli("validate", str(spec))
    assert out.returncode == 1, out.stdout
    assert code in out.stderr and words in out.stderr and str(spec) in out.stderr
    out = cli("run", str(spec))
    assert out.returncode != 0 and "Traceback" not in out.stderr


def test_validate_refuses_pickle_and_truncated_weights(tmp_path):
    (tmp_path / "model" / "unet").mkdir(parents=True)
    (tmp_path / "model" / "unet" / "diffusion_pytorch_model.bin").write_bytes(b"\x80\x04pickle")
    spec = write(tmp_path / "p.toml", SHAPES + '[components.unet]\npath = "model"\n')
    out = cli("validate", str(spec))
    assert out.returncode == 1 and "bad-weights" in out.stderr and "diffusion_pytorch_model.bin" in out.stderr
    shutil.copytree(shapes_weights() / "text_encoder", tmp_path / "te")
    weights = tmp_path / "te" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    spec = write(tmp_path / "q.toml", SHAPES + '[components.text_encoder]\npath = "te"\n')
    out = cli("validate", str(spec))
    assert out.returncode == 1 and "truncated" in out.stderr and str(weights) in out.stderr


def test_validate_still_accepts_a_good_file(tmp_path):
    (tmp_path / "weights").mkdir()
    shutil.copytree(shapes_weights() / "unet", tmp_path / "weights" / "unet")
    spec = write(
        tmp_path / "p.toml",
        SHAPES + '[inputs]\nprompt = "a red circle"\nnum_inference_steps = 2\n'
        '[components.unet]\npath = "weights"\ndtype = "float32"\n',
    )
    out = cli("validate", str(spec))
    assert out.returncode == 0, out.stderr
    assert "valid" in out.stdout
