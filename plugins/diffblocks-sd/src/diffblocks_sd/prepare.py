"""Timesteps and initial latents for text-to-image, image-to-image and inpainting."""

from __future__ import annotations

from typing import Any

import torch
from diffblocks import InputParam, OutputParam
from diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion import retrieve_timesteps
from diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion_img2img import retrieve_latents
from diffusers.utils.torch_utils import randn_tensor

from .components import IMAGE_PROCESSOR, MASK_PROCESSOR, SCHEDULER, UNET, VAE, default_size, vae_scale_factor
from .encode import SDBlock

GENERATOR = InputParam(
    "generator",
    "torch.Generator | list[torch.Generator]",
    description="random generator(s) for reproducible results",
)
NUM_IMAGES = InputParam(
    "num_images_per_prompt", int, default=1, ge=1, description="images to make per prompt"
)
HEIGHT = InputParam(
    "height", int, ge=8, description="image height in pixels (default: the UNet's sample size)"
)
WIDTH = InputParam("width", int, ge=8, description="image width in pixels (default: the UNet's sample size)")
BATCH_SIZE = InputParam("batch_size", int, required=True, description="number of prompts")
DTYPE = InputParam("dtype", "torch.dtype", required=True, description="dtype for latents")


def _size(components: Any, bs: Any) -> tuple[int, int]:
    """Requested height and width, defaulting to the UNet's sample size in pixels."""
    h0, w0 = default_size(components)
    return bs.height or h0, bs.width or w0


def _device(components: Any) -> torch.device:
    unet = getattr(components, "unet", None)
    return unet.device if unet is not None else torch.device("cpu")


class SetTimestepsStep(SDBlock):
    """Sets the scheduler's timesteps; with ``strength`` keeps only the last part (image-to-image)."""

    strength_default: float | None = None
    description = (
        "Sets the scheduler's timesteps (num_inference_steps, timesteps or sigmas; strength trims them)."
    )

    @property
    def expected_components(self):
        return [SCHEDULER]

    @property
    def inputs(self):
        return [
            InputParam("num_inference_steps", int, default=50, ge=1, description="number of denoising steps"),
            InputParam(
                "timesteps", "list[int]", description="custom timesteps (schedulers that support them)"
            ),
            InputParam("sigmas", "list[float]", description="custom sigmas (schedulers that support them)"),
            InputParam(
                "strength",
                float,
                default=self.strength_default,
                ge=0,
                le=1,
                description="how much to change the input image (0..1)",
            ),
        ]

    @property
    def intermediate_outputs(self):
        return [
            OutputParam("timesteps", "torch.Tensor", "the timesteps to run"),
            OutputParam("num_inference_steps", int, "steps that will actually run"),
        ]

    def __call__(self, components, state):
        bs = self.get_block_state(state)
        scheduler = components.scheduler
        timesteps, steps = retrieve_timesteps(
            scheduler, bs.num_inference_steps, _device(components), bs.timesteps, bs.sigmas
        )
        if bs.strength is not None:
            if not 0 <= bs.strength <= 1:
                raise ValueError(f"strength must be between 0 and 1, got {bs.strength}")
            init = min(int(steps * bs.strength), steps)
            start = max(steps - init, 0)
            timesteps = scheduler.timesteps[start * scheduler.order :]
            if hasattr(scheduler, "set_begin_index"):
                scheduler.set_begin_index(start * scheduler.order)
            steps = steps - start
            if steps < 1:
                raise ValueError(
                    f"strength {bs.strength} with num_inference_steps {bs.num_inference_steps} leaves no step to run; "
                    f"raise one of them"
                )
        bs.timesteps, bs.num_inference_steps = timesteps, steps
        self.set_block_state(state, bs)
        return components, state


class Img2ImgSetTimestepsStep(SetTimestepsStep):
    strength_default = 0.8


class InpaintSetTimestepsStep(SetTimestepsStep):
    strength_default = 1.0


class PrepareLatentsStep(SDBlock):
    description = "Draws the initial noise latents for text-to-image."

    @property
    def expected_components(self):
        return [UNET, VAE, SCHEDULER]

    @property
    def inputs(self):
        return [
            HEIGHT,
            WIDTH,
            InputParam("latents", "torch.Tensor", description="initial latents instead of fresh noise"),
            GENERATOR,
            NUM_IMAGES,
        ]

    @property
    def intermediate_inputs(self):
        return [BATCH_SIZE, DTYPE]

    @property
    def intermediate_outputs(self):
        return [OutputParam("latents", "torch.Tensor", "latents to denoise")]

    def __call__(self, components, state):
        bs = self.get_block_state(state)
        height, width = _size(components, bs)
        factor = vae_scale_factor(components.get("vae") if "vae" in components else None)
        batch = bs.batch_size * bs.num_images_per_prompt
        shape = (batch, components.unet.config.in_channels, int(height) // factor, int(width) // factor)
        _check_generators(bs.generator, batch)
        if bs.latents is None:
            latents = randn_tensor(shape, generator=bs.generator, device=_device(components), dtype=bs.dtype)
        else:
            latents = bs.latents.to(_device(components))
        bs.latents = latents * components.scheduler.init_noise_sigma
        self.set_block_state(state, bs)
        return components, state


def _check_generators(generator: Any, batch: int) -> None:
    if isinstance(generator, list) and len(generator) != batch:
        raise ValueError(
            f"got {len(generator)} generators for a batch of {batch} images; give one per image or a single one"
        )


def encode_images(vae: Any, image: torch.Tensor, generator: Any) -> torch.Tensor:
    """VAE latents (scaled), sampling with the generator(s) as diffusers does."""
    with torch.no_grad():
        if isinstance(generator, list):
            latents = torch.cat(
                [
                    retrieve_latents(vae.encode(image[i : i + 1]), generator=generator[i])
                    for i in range(image.shape[0])
                ]
            )
        else:
            latents = retrieve_latents(vae.encode(image), generator=generator)
    return vae.config.scaling_factor * latents


def _expand(latents: torch.Tensor, batch: int, what: str) -> torch.Tensor:
    if batch > latents.shape[0]:
        if batch % latents.shape[0]:
            raise ValueError(
                f"cannot spread {latents.shape[0]} {what} over a batch of {batch}; give 1 or {batch}"
            )
        return torch.cat([latents] * (batch // latents.shape[0]))
    return latents


class VaeEncoderStep(SDBlock):
    description = "Encodes the input image into VAE latents (image-to-image)."

    @property
    def expected_components(self):
        return [VAE, IMAGE_PROCESSOR]

    @property
    def inputs(self):
        return [
            InputParam(
                "image",
                "PIL.Image.Image | torch.Tensor | list",
                required=True,
                description="the image to start from",
            ),
            HEIGHT,
            WIDTH,
            GENERATOR,
            NUM_IMAGES,
        ]

    @property
    def intermediate_inputs(self):
        return [BATCH_SIZE, DTYPE]

    @property
    def intermediate_outputs(self):
        return [OutputParam("image_latents", "torch.Tensor", "scaled VAE latents of the image")]

    def __call__(self, components, state):
        bs = self.get_block_state(state)
        vae = components.vae
        image = components.image_processor.preprocess(bs.image, height=bs.height, width=bs.width).to(
            device=vae.device, dtype=bs.dtype
        )
        batch = bs.batch_size * bs.num_images_per_prompt
        if image.shape[1] == 4:
            latents = image
        else:
            _check_generators(bs.generator, batch)
            if isinstance(bs.generator, list):
                image = _expand(image, batch, "images")
            latents = encode_images(vae, image, bs.generator)
        bs.image_latents = _expand(latents, batch, "images")
        self.set_block_state(state, bs)
        return components, state


class Img2ImgPrepareLatentsStep(SDBlock):
    description = "Noises the image latents to the first timestep (image-to-image)."

    @property
    def expected_components(self):
        return [SCHEDULER]

    @property
    def inputs(self):
        return [GENERATOR]

    @property
    def intermediate_inputs(self):
        return [
            InputParam("image_latents", "torch.Tensor", required=True),
            InputParam("timesteps", "torch.Tensor", required=True),
            DTYPE,
        ]

    @property
    def intermediate_outputs(self):
        return [OutputParam("latents", "torch.Tensor", "latents to denoise")]

    def __call__(self, components, state):
        bs = self.get_block_state(state)
        image_latents = bs.image_latents
        first = bs.timesteps[:1].repeat(image_latents.shape[0])
        noise = randn_tensor(
            image_latents.shape, generator=bs.generator, device=image_latents.device, dtype=bs.dtype
        )
        bs.latents = components.scheduler.add_noise(image_latents, noise, first)
        self.set_block_state(state, bs)
        return components, state


class InpaintPrepareStep(SDBlock):
    description = (
        "Prepares latents, the mask and the masked-image latents for inpainting (4- and 9-channel UNets)."
    )

    @property
    def expected_components(self):
        return [UNET, VAE, SCHEDULER, IMAGE_PROCESSOR, MASK_PROCESSOR]

    @property
    def inputs(self):
        return [
            InputParam(
                "image",
                "PIL.Image.Image | torch.Tensor | list",
                required=True,
                description="the image to inpaint",
            ),
            InputParam(
                "mask_image",
                "PIL.Image.Image | torch.Tensor | list",
                required=True,
                description="white where to repaint",
            ),
            InputParam(
                "masked_image_latents", "torch.Tensor", description="precomputed masked-image latents"
            ),
            InputParam("latents", "torch.Tensor", description="initial latents instead of fresh noise"),
            InputParam(
                "strength", float, default=1.0, description="how much to change the masked area (0..1)"
            ),
            HEIGHT,
            WIDTH,
            GENERATOR,
            NUM_IMAGES,
        ]

    @property
    def intermediate_inputs(self):
        return [
            BATCH_SIZE,
            DTYPE,
            InputParam("timesteps", "torch.Tensor", required=True),
        ]

    @property
    def intermediate_outputs(self):
        return [
            OutputParam("latents", "torch.Tensor", "latents to denoise"),
            OutputParam("noise", "torch.Tensor", "the noise the latents started from"),
            OutputParam("image_latents", "torch.Tensor", "latents of the original image (4-channel UNets)"),
            OutputParam("mask", "torch.Tensor", "the mask at latent resolution"),
            OutputParam(
                "masked_image_latents", "torch.Tensor", "latents of the image with the masked area removed"
            ),
        ]

    def __call__(self, components, state):
        bs = self.get_block_state(state)
        unet, vae, scheduler = components.unet, components.vae, components.scheduler
        height, width = _size(components, bs)
        factor = vae_scale_factor(vae)
        batch = bs.batch_size * bs.num_images_per_prompt
        device, dtype = _device(components), bs.dtype
        unet_channels = unet.config.in_channels
        if unet_channels not in (4, 9):
            raise ValueError(
                f"the UNet has {unet_channels} input channels; inpainting needs a 4- or 9-channel UNet"
            )
        _check_generators(bs.generator, batch)
        init_image = components.image_processor.preprocess(bs.image, height=height, width=width).to(
            dtype=torch.float32
        )
        strength_max = bs.strength == 1.0
        shape = (batch, vae.config.latent_channels, int(height) // factor, int(width) // factor)
        image_latents = None
        if unet_channels == 4 or (bs.latents is None and not strength_max):
            pixels = init_image.to(device=device, dtype=dtype)
            image_latents = pixels if pixels.shape[1] == 4 else encode_images(vae, pixels, bs.generator)
            image_latents = image_latents.repeat(batch // image_latents.shape[0], 1, 1, 1)
        if bs.latents is None:
            noise = randn_tensor(shape, generator=bs.generator, device=device, dtype=dtype)
            if strength_max:
                latents = noise * scheduler.init_noise_sigma
            else:
                latents = scheduler.add_noise(image_latents, noise, bs.timesteps[:1].repeat(batch))
        else:
            noise = bs.latents.to(device)
            latents = noise * scheduler.init_noise_sigma
        mask = components.mask_processor.preprocess(bs.mask_image, height=height, width=width)
        masked = bs.masked_image_latents if bs.masked_image_latents is not None else init_image * (mask < 0.5)
        mask = torch.nn.functional.interpolate(mask, size=(height // factor, width // factor)).to(
            device=device, dtype=dtype
        )
        masked = masked.to(device=device, dtype=dtype)
        masked_latents = masked if masked.shape[1] == 4 else encode_images(vae, masked, bs.generator)
        mask = _expand(mask, batch, "masks")
        masked_latents = _expand(masked_latents, batch, "images").to(device=device, dtype=dtype)
        if unet_channels == 9:
            total = latents.shape[1] + mask.shape[1] + masked_latents.shape[1]
            if total != 9:
                raise ValueError(
                    f"latents, mask and masked-image latents have {total} channels together but the UNet takes 9"
                )
        bs.latents, bs.noise, bs.image_latents, bs.mask, bs.masked_image_latents = (
            latents,
            noise,
            image_latents,
            mask,
            masked_latents,
        )
        self.set_block_state(state, bs)
        return components, state
