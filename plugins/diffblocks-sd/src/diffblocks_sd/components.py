"""The Stable Diffusion family's components. Type hints are 'module:Class' strings so that declaring
them imports nothing heavy."""

from __future__ import annotations

from diffblocks import ComponentSpec, ConfigSpec

UNET = ComponentSpec("unet", "diffusers:UNet2DConditionModel", "the denoising UNet")
VAE = ComponentSpec("vae", "diffusers:AutoencoderKL", "the image autoencoder")
TEXT_ENCODER = ComponentSpec("text_encoder", "transformers:CLIPTextModel", "the CLIP text encoder")
TOKENIZER = ComponentSpec("tokenizer", "transformers:CLIPTokenizer", "the CLIP tokenizer")
SCHEDULER = ComponentSpec("scheduler", "diffusers:DDIMScheduler", "any diffusers scheduler (swap freely)")
IMAGE_PROCESSOR = ComponentSpec(
    "image_processor",
    "diffusers.image_processor:VaeImageProcessor",
    "pre/post-processing of images",
    config={"vae_scale_factor": 8},
    default_creation_method="from_config",
)
MASK_PROCESSOR = ComponentSpec(
    "mask_processor",
    "diffusers.image_processor:VaeImageProcessor",
    "pre-processing of inpainting masks",
    config={"vae_scale_factor": 8, "do_normalize": False, "do_binarize": True, "do_convert_grayscale": True},
    default_creation_method="from_config",
)
REQUIRES_SAFETY_CHECKER = ConfigSpec(
    "requires_safety_checker", False, "kept for diffusers compatibility; no checker runs"
)

ALL = [UNET, VAE, TEXT_ENCODER, TOKENIZER, SCHEDULER, IMAGE_PROCESSOR, MASK_PROCESSOR]


def vae_scale_factor(vae: object) -> int:
    return 2 ** (len(vae.config.block_out_channels) - 1) if vae is not None else 8  # type: ignore[attr-defined]


def default_size(components: object) -> tuple[int, int]:
    """Height and width diffusers uses when none are given: the UNet's sample size in pixels."""
    # config reads: get() does not move a model to the device under auto offload
    unet, vae = components.get("unet"), components.get("vae")  # type: ignore[attr-defined]
    size = unet.config.sample_size * vae_scale_factor(vae)
    return size, size
