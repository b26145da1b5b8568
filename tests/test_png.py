"""PNGs written by `diffblocks run` record how they were made; `--from-png` runs that again."""

from __future__ import annotations

import json

import pytest
from diffblocks._front._png import generation_record, read_png_metadata, save_png
from PIL import Image
from test_cli_errors import fails
from test_cli_plugins import cli

PROMPT = "prompt=a blue square"


def pixels(path) -> bytes:
    with Image.open(path) as im:
        return im.convert("RGB").tobytes()


@pytest.mark.slow
def test_png_carries_its_record_and_from_png_runs_it_again(tmp_path):
    first = tmp_path / "first.png"
    out = cli(
        "run",
        "shapes.text2img",
        "--set",
        PROMPT,
        "--set",
        "num_inference_steps=4",
        "--seed",
        "3",
        "--out",
        str(first),
    )
    assert out.returncode == 0, out.stderr
    record = read_png_metadata(first)
    assert record["block"] == "shapes.text2img" and record["seed"] == 3 and record["output"] == "images"
    assert record["inputs"] == {"prompt": "a blue square", "num_inference_steps": 4}
    assert record["plugins"]["diffblocks-shapes"] == "0.1.0" and record["diffblocks"] == "0.1.0"
    again = tmp_path / "again.png"
    out = cli("run", "--from-png", str(first), "--out", str(again))
    assert out.returncode == 0, out.stderr
    assert pixels(again) == pixels(first)
    assert read_png_metadata(again) == record


@pytest.mark.slow
def test_spec_file_runs_record_the_spec_and_each_image_of_a_batch(tmp_path):
    spec = tmp_path / "shapes.toml"
    spec.write_text(
        'diffblocks_spec = 1\nworkflow = "shapes.text2img"\n[inputs]\nnum_inference_steps = 3\nnum_images_per_prompt = 2\n'
    )
    (tmp_path / "first_0.png").write_text("in the way")
    assert "first_0.png: a file of that name exists" in fails(
        "run", str(spec), "--set", PROMPT, "--seed", "5", "--out", str(tmp_path / "first.png")
    )
    (tmp_path / "first_0.png").unlink()
    out = cli("run", str(spec), "--set", PROMPT, "--seed", "5", "--out", str(tmp_path / "first.png"))
    assert out.returncode == 0, out.stderr
    record = read_png_metadata(tmp_path / "first_1.png")
    assert record["block"] is None and record["spec"]["workflow"] == "shapes.text2img"
    assert record["spec"]["inputs"] == {"num_inference_steps": 3, "num_images_per_prompt": 2}
    assert record["image_index"] == 1
    spec.unlink()  # the PNG alone is enough
    out = cli("run", "--from-png", str(tmp_path / "first_1.png"), "--out", str(tmp_path / "again.png"))
    assert out.returncode == 0, out.stderr
    for i in (0, 1):
        assert pixels(tmp_path / f"again_{i}.png") == pixels(tmp_path / f"first_{i}.png")


@pytest.mark.slow
def test_from_png_keeps_a_spec_files_component_paths_working(tmp_path, monkeypatch):
    import shutil

    import diffblocks_shapes

    project = tmp_path / "project"
    weights = project / "model"
    shutil.copytree(diffblocks_shapes.__path__[0] + "/weights", weights)
    spec = project / "s.toml"
    spec.write_text(
        'diffblocks_spec = 1\nworkflow = "shapes.text2img"\n[inputs]\nnum_inference_steps = 2\n'
        '[components.unet]\npath = "model"\n'
    )
    first = tmp_path / "first.png"
    out = cli("run", str(spec), "--set", PROMPT, "--seed", "1", "--out", str(first))
    assert out.returncode == 0, out.stderr
    assert read_png_metadata(first)["spec_folder"] == str(project.resolve())
    monkeypatch.chdir(tmp_path)  # elsewhere: the recorded folder, not the working one, counts
    out = cli("run", "--from-png", str(first), "--out", str(tmp_path / "again.png"))
    assert out.returncode == 0, out.stderr
    assert pixels(tmp_path / "again.png") == pixels(first)


@pytest.mark.slow
def test_latents_are_saved_as_safetensors(tmp_path):
    from safetensors.torch import load_file

    target = tmp_path / "latents.safetensors"
    out = cli(
        "run",
        "shapes.text2img",
        "--set",
        PROMPT,
        "--set",
        "num_inference_steps=2",
        "--seed",
        "0",
        "--output",
        "latents",
        "--out",
        str(target),
    )
    assert out.returncode == 0, out.stderr
    tensors = load_file(str(target))
    assert list(tensors) == ["latents"] and tuple(tensors["latents"].shape) == (1, 3, 32, 32)


def write_png(path, record):
    save_png(Image.new("RGB", (4, 4)), path, record)
    return path


def test_from_png_refuses_files_without_a_usable_record(tmp_path):
    assert "no such file" in fails("run", "--from-png", str(tmp_path / "nothere.png"))
    plain = write_png(tmp_path / "plain.png", None)
    assert "holds no diffblocks record" in fails("run", "--from-png", str(plain))
    future = write_png(tmp_path / "future.png", {"format": 99, "block": "example.arith"})
    assert "newer than this diffblocks" in fails("run", "--from-png", str(future))
    tensor_input = generation_record(inputs={"latents": object()}, seed=0, block="example.arith")
    lossy = write_png(tmp_path / "lossy.png", tensor_input)
    assert "input 'latents' was a object" in fails("run", "--from-png", str(lossy))
    assert "not both" in fails("run", "example.arith", "--from-png", str(plain))


def test_from_png_runs_a_recorded_plain_pipeline(tmp_path):
    # any recorded block runs again, with --set overriding a recorded input
    png = write_png(
        tmp_path / "r.png",
        generation_record(inputs={"value": 2}, seed=None, block="example.arith", extra={"output": "text"}),
    )
    out = cli("run", "--from-png", str(png))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == "result: 6"
    out = cli("run", "--from-png", str(png), "--set", "value=3")
    assert json.loads(out.stdout) == "result: 8"
