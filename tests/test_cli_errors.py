"""Every user error of `diffblocks run` prints one message and exits 2, never a traceback; output
files are never clobbered or written through symlinks; a closed pipe ends the command quietly."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from test_cli_plugins import EXE, cli


def fails(*args: str) -> str:
    """Run the CLI expecting a user error; return its one-line-or-more message."""
    out = cli(*args)
    assert out.returncode == 2, (out.returncode, out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    # one message (progress notes such as "still loading ..." may come before it)
    errors = [line for line in out.stderr.splitlines() if line.startswith("diffblocks: error: ")]
    assert len(errors) == 1, out.stderr
    return out.stderr[out.stderr.index("diffblocks: error: ") :]


def test_version():
    out = cli("--version")
    assert out.returncode == 0 and out.stdout.strip() == "diffblocks 0.1.0"


@pytest.mark.parametrize(
    "setting, words",
    [
        ("num_inference_steps=0", "positive whole number"),
        ("num_inference_steps=-3", "positive whole number"),
        ("num_inference_steps=2.5", "positive whole number"),
        ('num_inference_steps="many"', "positive whole number"),
        ("num_images_per_prompt=0", "positive whole number"),
        ("guidance_scale=NaN", "not a finite number"),
        ("guidance_scale=Infinity", "not a finite number"),
        ("guidance_scale=1e999", "not a finite number"),
    ],
)
def test_bad_numbers_are_refused(setting, words):
    message = fails("run", "shapes.text2img", "--set", "prompt=a red circle", "--set", setting)
    assert setting.split("=")[0] in message and words in message


def test_nan_in_a_plain_pipeline():
    assert "not a finite number" in fails("run", "example.arith", "--set", "value=-Infinity")


@pytest.mark.parametrize("seed", ["-1", str(2**64)])
def test_seed_out_of_range_names_the_flag(seed):
    assert "--seed" in fails("run", "example.arith", "--set", "value=1", "--seed", seed)


def test_unknown_device():
    assert "unknown device" in fails("run", "example.arith", "--set", "value=1", "--device", "toaster")


def test_cuda_without_cuda():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert "CUDA is not available" in fails("run", "example.arith", "--set", "value=1", "--device", "cuda")


def test_output_that_the_pipeline_does_not_have(tmp_path):
    message = fails(
        "run", "example.arith", "--set", "value=1", "--output", "txt", "--out", str(tmp_path / "o.json")
    )
    assert "--output txt" in message and "Did you mean 'text'" in message and "x, text" in message
    assert not list(tmp_path.iterdir())


# `value="abc"` makes the first block raise: each --out problem must be reported before that
BROKEN_RUN = ("run", "example.arith", "--set", 'value="abc"')


def test_out_problems_are_found_before_any_compute(tmp_path):
    assert "is a folder" in fails(*BROKEN_RUN, "--out", str(tmp_path))
    assert "does not exist" in fails(*BROKEN_RUN, "--out", str(tmp_path / "missing" / "x.json"))
    assert "unknown file type" in fails(*BROKEN_RUN, "--out", str(tmp_path / "result"))
    assert "unknown file type '.txt'" in fails(*BROKEN_RUN, "--out", str(tmp_path / "result.txt"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_out_in_an_unwritable_folder(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert "not writable" in fails(*BROKEN_RUN, "--out", str(locked / "x.json"))
    finally:
        locked.chmod(0o700)


def test_unwritable_folder_check_in_process(tmp_path, monkeypatch):
    # root may write anywhere, so the subprocess test above skips there: check the rule itself
    from diffblocks._front._cli_output import UsageError, check_out_path

    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(UsageError, match="not writable"):
        check_out_path(str(tmp_path / "x.json"), force=False)


def test_existing_file_needs_force(tmp_path):
    target = tmp_path / "x.json"
    target.write_text("keep me")
    assert "--force" in fails(
        "run", "example.arith", "--set", "value=1", "--output", "x", "--out", str(target)
    )
    assert target.read_text() == "keep me"
    out = cli("run", "example.arith", "--set", "value=1", "--output", "x", "--out", str(target), "--force")
    assert out.returncode == 0, out.stderr
    assert json.loads(target.read_text()) == 4.0


def test_symlink_is_replaced_not_followed(tmp_path):
    victim = tmp_path / "victim.json"
    victim.write_text("precious")
    link = tmp_path / "x.json"
    link.symlink_to(victim)
    assert "a symlink of that name exists" in fails(
        "run", "example.arith", "--set", "value=1", "--output", "x", "--out", str(link)
    )
    out = cli("run", "example.arith", "--set", "value=1", "--output", "x", "--out", str(link), "--force")
    assert out.returncode == 0, out.stderr
    assert victim.read_text() == "precious"
    assert not link.is_symlink() and json.loads(link.read_text()) == 4.0


@pytest.mark.slow
def test_tensor_output_cannot_be_written_as_text(tmp_path):
    # the type hint says tensor: refused before the model runs
    message = fails("run", "shapes.text2img", "--set", "prompt=a red circle", "--output", "latents")
    assert "'latents' is a tensor and cannot be written as text" in message and ".safetensors" in message
    message = fails(
        "run",
        "shapes.text2img",
        "--set",
        "prompt=a red circle",
        "--output",
        "latents",
        "--out",
        str(tmp_path / "l.pt"),
    )
    assert ".pt" in message
    message = fails(
        "run",
        "shapes.text2img",
        "--set",
        "prompt=a red circle",
        "--output",
        "latents",
        "--out",
        str(tmp_path / "l.json"),
    )
    assert "a .safetensors file name" in message
    message = fails(
        "run", "shapes.text2img", "--set", "prompt=a red circle", "--out", str(tmp_path / "img.json")
    )
    assert "an image file name" in message
    assert not list(tmp_path.iterdir())


def test_block_failure_says_what_was_computed_without_python_details():
    message = fails("run", "example.arith", "--set", "value=1", "--set", 'template="{y}"')
    assert "block 'format' (Format) raised KeyError" in message
    assert ".state." not in message.splitlines()[0] and "this exception" not in message
    assert "Computed before the failure: x." in message and "BlockExecutionError" in message


def test_broken_pipe_exits_quietly():
    proc = subprocess.Popen([EXE, "blocks", "list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the command writes anything
    stderr = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 0
    assert stderr == ""


def test_spec_file_inputs_are_checked_too(tmp_path):
    spec = tmp_path / "p.toml"
    spec.write_text('diffblocks_spec = 1\nworkflow = "example.arith"\n[inputs]\nvalue = nan\n')
    message = fails("run", str(spec))  # the spec-file loader or the CLI, whichever sees it first
    assert "value" in message and "nan is not a finite number" in message


def test_missing_components_are_explained_in_command_line_terms(tmp_path):
    message = fails("run", "sd.text2img", "--set", "prompt=a cat", "--out", str(tmp_path / "cat.png"))
    assert "component 'unet' is needed by block" in message
    assert "update_components" not in message and "load_components" not in message
    assert "[components.text_encoder]" in message and "path =" in message
