"""Flux, Qwen-Image and Wan through diffblocks: parity with diffusers' ModularPipeline."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import diffusers
import diffusers_tiny as tiny
import pytest
import torch
from diffblocks import compose
from diffusers_tiny import max_diff, with_fresh_scheduler


def _both(
    name: str, blocks_class: str, workflow: str | None, components: dict[str, Any], **kw: Any
) -> tuple[Any, Any]:
    ours = compose(name).init_pipeline()
    ours.update_components(**with_fresh_scheduler(components))
    blocks = getattr(diffusers, blocks_class)()
    theirs = (blocks.get_workflow(workflow) if workflow else blocks).init_pipeline()
    theirs.update_components(**with_fresh_scheduler(components))
    a = ours(generator=torch.Generator().manual_seed(0), **kw)
    b = theirs(generator=torch.Generator().manual_seed(0), **kw)
    return a, b


def test_flux_text2image(tmp_path: Path) -> None:
    kw = dict(prompt="a cat", num_inference_steps=2, height=32, width=32, output_type="pt")
    a, b = _both(
        "diffusers.flux.text2image", "FluxAutoBlocks", "text2image", tiny.flux_components(tmp_path), **kw
    )
    assert a.get("images").shape == (1, 3, 32, 32)
    assert max_diff(a.get("images"), b.get("images")) <= 1e-4


def test_qwenimage_text2image(tmp_path: Path) -> None:
    kw = dict(prompt="a cat", num_inference_steps=2, height=32, width=32, output_type="pt")
    comps = tiny.qwenimage_components(tmp_path)
    a, b = _both("diffusers.qwenimage.text2image", "QwenImageAutoBlocks", "text2image", comps, **kw)
    assert a.get("images").shape == (1, 3, 32, 32)
    assert max_diff(a.get("images"), b.get("images")) <= 1e-4


def test_wan_text_to_video(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import diffusers.modular_pipelines.wan.encoders as wan_encoders

    # Wan cleans prompts with ftfy, an optional dependency this environment does not install
    monkeypatch.setattr(wan_encoders, "ftfy", types.SimpleNamespace(fix_text=lambda s: s), raising=False)
    kw = dict(prompt="a cat", num_inference_steps=2, height=16, width=16, num_frames=5, output_type="pt")
    # diffusers' Wan preset has no workflow map: the auto preset is text-to-video
    a, b = _both("diffusers.wan.auto", "WanBlocks", None, tiny.wan_components(tmp_path), **kw)
    assert a.get("videos").shape == (1, 5, 3, 16, 16)
    assert max_diff(a.get("videos"), b.get("videos")) <= 1e-4
