"""Weights: pickle files are refused on every loading path with one error naming the file and the
fix; use_safetensors=False is refused; truncated or corrupt safetensors files get a clear error,
also from `diffblocks run`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from diffblocks import ComponentLoadError, ComponentSpec, get_block
from diffblocks_shapes.model import CaptionEncoder
from safetensors.torch import save_file
from test_cli_plugins import cli

TYPE = "diffblocks_shapes.model:CaptionEncoder"


def pickle_folder(folder: Path, suffix: str = ".bin") -> Path:
    """A folder in diffusers layout whose weights are a pickle file (what torch.save writes)."""
    CaptionEncoder().save_pretrained(folder, safe_serialization=False)
    written = folder / "diffusion_pytorch_model.bin"
    assert written.exists()
    if suffix != ".bin":
        written = written.rename(folder / f"diffusion_pytorch_model{suffix}")
    return written


def safe_folder(folder: Path) -> Path:
    CaptionEncoder().save_pretrained(folder)
    return folder / "diffusion_pytorch_model.safetensors"


@pytest.mark.parametrize("suffix", [".bin", ".pt", ".ckpt"])
def test_component_spec_load_refuses_pickle_weights(tmp_path, suffix):
    weights = pickle_folder(tmp_path / "text_encoder", suffix)
    spec = ComponentSpec("text_encoder", TYPE, repo=str(tmp_path), subfolder="text_encoder")
    with pytest.raises(ComponentLoadError) as info:
        spec.load()
    text = str(info.value)
    assert str(weights) in text and "pickle" in text and "safetensors.torch.save_file" in text
    assert "'text_encoder'" in text


def test_a_pickle_file_given_directly_is_refused(tmp_path):
    weights = tmp_path / "model.ckpt"
    torch.save({"w": torch.zeros(1)}, weights)
    with pytest.raises(ComponentLoadError, match="model.ckpt' is a pickle weights file"):
        ComponentSpec("unet", TYPE).load(weights)


def test_use_safetensors_false_is_refused(tmp_path):
    safe_folder(tmp_path / "te")
    spec = ComponentSpec("text_encoder", TYPE, repo=str(tmp_path / "te"))
    assert isinstance(spec.load(), CaptionEncoder)
    with pytest.raises(ComponentLoadError, match="use_safetensors=False is refused"):
        spec.load(use_safetensors=False)


def test_pipeline_loading_paths_refuse_pickle_weights(tmp_path):
    weights = pickle_folder(tmp_path / "model" / "text_encoder")
    pipe = get_block("shapes.text2img").init_pipeline()
    with pytest.raises(ComponentLoadError, match="pickle weights file") as info:
        pipe.load_components(str(tmp_path / "model"), names=["text_encoder"])
    assert str(weights) in str(info.value)
    # a plugin's loader for the type is no way around it
    pipe.component_loaders["CaptionEncoder"] = lambda spec, path, **kw: CaptionEncoder()
    with pytest.raises(ComponentLoadError, match="pickle weights file"):
        pipe.load_components(str(tmp_path / "model"), names=["text_encoder"])


def test_pickle_next_to_safetensors_is_fine(tmp_path):
    safe_folder(tmp_path / "te")
    torch.save({"w": torch.zeros(1)}, tmp_path / "te" / "training_args.bin")
    assert isinstance(ComponentSpec("text_encoder", TYPE, repo=str(tmp_path / "te")).load(), CaptionEncoder)


@pytest.mark.parametrize("damage", ["truncated", "header", "empty"])
def test_damaged_safetensors_is_a_clear_error(tmp_path, damage):
    weights = safe_folder(tmp_path / "te")
    data = weights.read_bytes()
    weights.write_bytes(
        {
            "truncated": data[: len(data) // 2],
            "header": b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}xxxxxx",
            "empty": b"",
        }[damage]
    )
    with pytest.raises(ComponentLoadError) as info:
        ComponentSpec("text_encoder", TYPE, repo=str(tmp_path / "te")).load()
    text = str(info.value)
    assert str(weights) in text and ("truncated" in text or "not a valid safetensors" in text)


def test_tiny_safetensors_written_in_the_test_are_checked_by_header(tmp_path):
    from diffblocks._model._weights import safetensors_problem

    path = tmp_path / "t.safetensors"
    save_file({"a": torch.zeros(64), "b": torch.ones(3, 3)}, str(path))
    assert safetensors_problem(path) is None
    path.write_bytes(path.read_bytes()[:-1])
    assert "truncated" in safetensors_problem(path)


def test_cli_run_with_a_truncated_weights_file_is_a_clear_error(tmp_path):
    import diffblocks_shapes

    shutil.copytree(Path(diffblocks_shapes.WEIGHTS), tmp_path / "weights")
    weights = tmp_path / "weights" / "unet" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:4096])
    spec = tmp_path / "shapes.toml"
    spec.write_text(
        'diffblocks_spec = 1\nworkflow = "shapes.text2img"\n[components.unet]\npath = "weights"\n'
    )
    out = cli("run", str(spec), "--set", "prompt=a red circle", "--set", "num_inference_steps=2")
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    assert str(weights) in out.stderr and "truncated" in out.stderr
