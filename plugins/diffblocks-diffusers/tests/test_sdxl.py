# ruff: noqa: F811  (test arguments named after the imported `sdxl` fixture)
"""SDXL through diffblocks: parity with diffusers' ModularPipeline and classic pipeline."""

from __future__ import annotations

from typing import Any

import diffusers
import diffusers_tiny as tiny
import pytest
import torch
from diffblocks import compose
from diffusers_fixtures import sdxl  # noqa: F401  (the fixture, shared without a conftest.py)
from diffusers_tiny import max_diff, with_fresh_scheduler

STEPS = 2
PROMPT = "a cat"
SIZE = 16


def _inputs(workflow: str) -> dict[str, Any]:
    kw: dict[str, Any] = dict(
        prompt=PROMPT, num_inference_steps=STEPS, height=SIZE, width=SIZE, output_type="pt"
    )
    if workflow in ("image2image", "inpainting"):
        kw["image"] = tiny.image(SIZE)
        kw["strength"] = 0.9
    if workflow == "inpainting":
        kw["mask_image"] = tiny.mask(SIZE)
    return kw


def run_ours(name: str, components: dict[str, Any], **kw: Any) -> Any:
    pipe = compose(name).init_pipeline()
    pipe.update_components(**with_fresh_scheduler(components))
    return pipe(generator=torch.Generator().manual_seed(0), output="images", **kw)


def run_modular(workflow: str, components: dict[str, Any], **kw: Any) -> Any:
    pipe = diffusers.StableDiffusionXLAutoBlocks().get_workflow(workflow).init_pipeline()
    pipe.update_components(**with_fresh_scheduler(components))
    return pipe(generator=torch.Generator().manual_seed(0), output="images", **kw)


@pytest.mark.parametrize("workflow", ["text2image", "image2image", "inpainting"])
def test_parity_with_diffusers_modular(sdxl: dict[str, Any], workflow: str) -> None:
    kw = _inputs(workflow)
    ours = run_ours(f"diffusers.stable_diffusion_xl.{workflow}", sdxl, **kw)
    theirs = run_modular(workflow, sdxl, **kw)
    assert ours.shape == theirs.shape == (1, 3, SIZE, SIZE)
    assert max_diff(ours, theirs) <= 1e-4


def test_parity_with_classic_pipeline(sdxl: dict[str, Any]) -> None:
    ours = run_ours("diffusers.stable_diffusion_xl.text2image", sdxl, **_inputs("text2image"))
    classic = diffusers.StableDiffusionXLPipeline(**with_fresh_scheduler(sdxl))
    classic.set_progress_bar_config(disable=True)
    theirs = classic(
        prompt=PROMPT,
        num_inference_steps=STEPS,
        height=SIZE,
        width=SIZE,
        guidance_scale=7.5,
        generator=torch.Generator().manual_seed(0),
        output_type="pt",
    ).images
    assert max_diff(ours, theirs) <= 1e-4


def test_auto_preset_picks_workflow_from_inputs(sdxl: dict[str, Any]) -> None:
    kw = _inputs("image2image")
    ours = run_ours("diffusers.stable_diffusion_xl.auto", sdxl, **kw)
    theirs = run_modular("image2image", sdxl, **kw)
    assert max_diff(ours, theirs) <= 1e-4


def test_cfg_runs_one_unet_call_per_step(sdxl: dict[str, Any]) -> None:
    calls: list[int] = []
    hook = sdxl["unet"].register_forward_pre_hook(lambda m, args: calls.append(args[0].shape[0]))
    try:
        run_ours("diffusers.stable_diffusion_xl.text2image", sdxl, **_inputs("text2image"))
    finally:
        hook.remove()
    assert calls == [2] * STEPS


@pytest.mark.parametrize(
    ("guider", "expected"),
    [
        ({"guidance_scale": 3.0}, diffusers.ClassifierFreeGuidance(guidance_scale=3.0)),
        ({"type": "apg", "guidance_scale": 5.0}, diffusers.AdaptiveProjectedGuidance(guidance_scale=5.0)),
        ("pag", None),
    ],
)
def test_guider_by_name_matches_diffusers_guider(sdxl: dict[str, Any], guider: Any, expected: Any) -> None:
    kw = _inputs("text2image")
    if expected is None:  # PAG hooks the UNet: diffblocks keeps diffusers' per-batch path
        guider = {
            "type": "pag",
            "guidance_scale": 5.0,
            "perturbed_guidance_scale": 2.0,
            "perturbed_guidance_layers": ["mid"],
        }
        expected = diffusers.PerturbedAttentionGuidance(
            guidance_scale=5.0, perturbed_guidance_scale=2.0, perturbed_guidance_layers=["mid"]
        )
    ours = run_ours("diffusers.stable_diffusion_xl.text2image", sdxl, guider=guider, **kw)
    theirs = run_modular("text2image", {**sdxl, "guider": expected}, **kw)
    assert max_diff(ours, theirs) <= 1e-4
    assert max_diff(ours, _plain(sdxl)) > 1e-3  # the guider really changed


_PLAIN: list[Any] = []


def _plain(sdxl: dict[str, Any]) -> Any:
    """text2image with the default guider (CFG 7.5), computed once."""
    if not _PLAIN:
        _PLAIN.append(run_ours("diffusers.stable_diffusion_xl.text2image", sdxl, **_inputs("text2image")))
    return _PLAIN[0]


def test_unknown_guider_is_named() -> None:
    from diffblocks_diffusers import resolve_guider

    with pytest.raises(ValueError, match="did you mean 'apg'|Did you mean 'apg'"):
        resolve_guider("apgg")
    with pytest.raises(ValueError, match="guidance_scale"):
        resolve_guider({"type": "cfg", "guidance_scal": 2.0})
