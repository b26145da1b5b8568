"""Hooks of diffblocks-sd: the `sd` model family. Blocks are static entry points (lazy)."""

from __future__ import annotations

from diffblocks import ModelFamily, hookimpl

from .components import ALL, REQUIRES_SAFETY_CHECKER


@hookimpl
def register_families(registry):
    registry.register(
        ModelFamily(
            name="sd",
            description="Stable Diffusion 1.x/2.x: CLIP text encoder, UNet, VAE, any diffusers scheduler.",
            components=list(ALL),
            configs=[REQUIRES_SAFETY_CHECKER],
            workflows={
                "text2img": "sd.text2img",
                "img2img": "sd.img2img",
                "inpaint": "sd.inpaint",
                "auto": "sd.auto",
            },
            pipeline_class="diffblocks_sd.pipeline:StableDiffusionModularPipeline",
        )
    )
