"""A Stable Diffusion pipeline saved with save_pretrained and read back with from_pretrained:
diffusers 0.42's modular folder layout, the family's pipeline class, the same images."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import fresh_scheduler, run_text2img
from diffblocks import ComponentLoadError, ModularPipeline, get_block


def test_save_pretrained_then_from_pretrained_gives_the_same_images(components, tmp_path):
    pipe = get_block("sd.text2img").init_pipeline()
    pipe.update_components(**{**components, "scheduler": fresh_scheduler(components["scheduler"])})
    expected = run_text2img(pipe)
    pipe.save_pretrained(tmp_path)
    index = json.loads((tmp_path / "modular_model_index.json").read_text())
    assert index["unet"][:2] == ["diffusers", "UNet2DConditionModel"]
    assert index["text_encoder"][:2] == ["transformers", "CLIPTextModel"]
    assert (tmp_path / "unet" / "diffusion_pytorch_model.safetensors").is_file()
    with pytest.raises(ComponentLoadError, match=r"blocks=get_block\('sd.text2img'\)"):
        ModularPipeline.from_pretrained(tmp_path)  # the hint names the registered blocks

    again = ModularPipeline.from_pretrained(tmp_path, blocks=get_block("sd.text2img"))
    assert type(again).__name__ == "StableDiffusionModularPipeline"  # the family's class
    assert again.null_component_names  # nothing loaded before load_components()
    again.load_components()
    np.testing.assert_allclose(run_text2img(again), expected, atol=1e-6)
