"""Component specs of the shapes family; their default location is the weights shipped in this package."""

from __future__ import annotations

from diffblocks import ComponentSpec

from . import WEIGHTS

UNET = ComponentSpec(
    "unet",
    "diffusers:UNet2DConditionModel",
    "pixel-space denoising UNet (32x32)",
    repo=str(WEIGHTS),
    subfolder="unet",
)
TEXT_ENCODER = ComponentSpec(
    "text_encoder",
    "diffblocks_shapes.model:CaptionEncoder",
    "word-embedding caption encoder",
    repo=str(WEIGHTS),
    subfolder="text_encoder",
)
SCHEDULER = ComponentSpec(
    "scheduler",
    "diffusers:DPMSolverMultistepScheduler",
    "sampling schedule",
    repo=str(WEIGHTS),
    subfolder="scheduler",
)
ALL = [UNET, TEXT_ENCODER, SCHEDULER]
