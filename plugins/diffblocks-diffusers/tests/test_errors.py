# ruff: noqa: F811  (test arguments named after the imported `sdxl` fixture)
"""Bad input: did-you-mean for workflows, missing inputs/components named before compute,
partial state kept on failure."""

from __future__ import annotations

from typing import Any

import diffblocks_diffusers
import pytest
import torch
from diffblocks import (
    BlockExecutionError,
    CompositionError,
    MissingComponentError,
    MissingInputError,
    compose,
)
from diffusers_fixtures import sdxl  # noqa: F401  (the fixture, shared without a conftest.py)
from diffusers_tiny import with_fresh_scheduler

KW = dict(num_inference_steps=2, height=32, width=32, output_type="pt")


def test_unknown_workflow_suggests_the_familys_workflows() -> None:
    with pytest.raises(diffblocks_diffusers.UnknownWorkflowError) as info:
        diffblocks_diffusers.workflow("stable-diffusion-xl", "text2img")
    message = str(info.value)
    assert "Did you mean 'text2image'" in message
    assert "inpainting" in message  # lists that family's names, not every registered block
    assert info.value.close[0] == "diffusers.stable_diffusion_xl.text2image"


def test_unknown_workflow_name_in_compose_suggests_the_name() -> None:
    with pytest.raises(CompositionError, match=r"Did you mean 'diffusers\.stable_diffusion_xl\.text2image'"):
        compose("diffusers.stable_diffusion_xl.text2img")


def test_unknown_family_suggests_families() -> None:
    with pytest.raises(KeyError, match="stable_diffusion_xl"):
        diffblocks_diffusers.workflow("stable_diffusion_xxl", "text2image")


def test_missing_component_names_the_block_before_compute(sdxl: dict[str, Any]) -> None:
    pipe = compose("diffusers.stable_diffusion_xl.text2image").init_pipeline()
    pipe.update_components(**{k: v for k, v in with_fresh_scheduler(sdxl).items() if k != "unet"})
    with pytest.raises(MissingComponentError) as info:
        pipe(prompt="a cat", **KW)
    message = str(info.value)
    assert "'unet'" in message and "no block has run" in message
    assert "'denoise.denoise' (StableDiffusionXLDenoiseStep)" in message


def test_missing_input_is_reported_before_compute(sdxl: dict[str, Any]) -> None:
    pipe = compose("diffusers.stable_diffusion_xl.image2image").init_pipeline()
    pipe.update_components(**with_fresh_scheduler(sdxl))
    calls: list[Any] = []
    hook = sdxl["text_encoder"].register_forward_pre_hook(lambda *a: calls.append(1))
    try:
        with pytest.raises(MissingInputError) as info:
            pipe(prompt="a cat", **KW)  # no image
    finally:
        hook.remove()
    assert calls == []
    assert "'image'" in str(info.value) and "vae_encoder" in str(info.value)


class _BrokenVae(torch.nn.Module):
    def __init__(self, vae: Any) -> None:
        super().__init__()
        self.inner = vae
        self.config = vae.config

    @property
    def dtype(self) -> torch.dtype:
        return self.inner.dtype

    def decode(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("decoder exploded")


def test_failure_keeps_partial_state_and_names_the_path(sdxl: dict[str, Any]) -> None:
    pipe = compose("diffusers.stable_diffusion_xl.text2image").init_pipeline()
    pipe.update_components(**{**with_fresh_scheduler(sdxl), "vae": _BrokenVae(sdxl["vae"])})
    with pytest.raises(BlockExecutionError) as info:
        pipe(prompt="a cat", generator=torch.Generator().manual_seed(0), **KW)
    err = info.value
    assert err.block_path == "decode"
    assert "decoder exploded" in str(err)
    latents = err.state.get("latents")
    assert latents is not None and latents.shape == (1, 4, 16, 16)
    assert err.state.get("prompt_embeds") is not None


def test_adapt_any_diffusers_block() -> None:
    import diffusers

    blocks = diffblocks_diffusers.adapt(diffusers.StableDiffusionXLAutoBlocks().get_workflow("text2image"))
    assert list(blocks.sub_blocks) == ["text_encoder", "denoise", "decode"]
    assert blocks.model_name == "diffusers.stable_diffusion_xl"
    assert "prompt" in blocks.input_names and "images" in blocks.output_names
    assert "guider" in blocks.input_names  # guider by name on blocks that use one
    blocks.validate()
