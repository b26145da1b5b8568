"""The shapes blocks: caption encoding, timesteps, noise, a guided denoising loop, decoding to images."""

from __future__ import annotations

import torch
from diffblocks import (
    DenoiseLoopBlocks,
    InputParam,
    OutputParam,
    PipelineBlock,
    SchedulerStepBlock,
    SequentialPipelineBlocks,
    combine_guidance,
    scheduler_step_kwargs,
)
from diffusers.utils.torch_utils import randn_tensor

from .components import SCHEDULER, TEXT_ENCODER, UNET


class ShapesBlock(PipelineBlock):
    model_name = "shapes"


class TextEncoderStep(ShapesBlock):
    description = "Embeds the prompt (and the empty prompt, for guidance) with the caption encoder."

    @property
    def expected_components(self):
        return [TEXT_ENCODER]

    @property
    def inputs(self):
        return [
            InputParam("prompt", "str | list[str]", required=True, description='e.g. "a red circle"'),
            InputParam("num_images_per_prompt", int, default=1, ge=1, description="images per prompt"),
            InputParam(
                "guidance_scale",
                float,
                default=4.0,
                ge=0,
                description="classifier-free guidance; <= 1 disables it",
            ),
        ]

    @property
    def intermediate_outputs(self):
        return [
            OutputParam("prompt_embeds", "torch.Tensor", "caption embeddings, one row per image"),
            OutputParam("negative_prompt_embeds", "torch.Tensor", "empty-prompt embeddings, or None"),
            OutputParam("batch_size", int, "images to make"),
        ]

    @torch.no_grad()
    def __call__(self, components, state):
        bs = self.get_block_state(state)
        encoder = components.text_encoder
        prompts = [bs.prompt] if isinstance(bs.prompt, str) else list(bs.prompt)
        unknown = sorted({w for p in prompts for w in encoder.unknown_words(p)})
        if unknown:
            raise ValueError(
                f"the shapes model does not know the word(s) {unknown}; it knows: "
                f"{', '.join(w for w in encoder.config.vocab if w != '<pad>')} (e.g. 'a red circle')"
            )
        prompts = [p for p in prompts for _ in range(bs.num_images_per_prompt)]
        bs.prompt_embeds = encoder(encoder.tokenize(prompts))
        bs.negative_prompt_embeds = (
            encoder(encoder.tokenize([""] * len(prompts))) if bs.guidance_scale > 1 else None
        )
        bs.batch_size = len(prompts)
        self.set_block_state(state, bs)
        return components, state


class SetTimestepsStep(ShapesBlock):
    description = "Sets the scheduler's timesteps."

    @property
    def expected_components(self):
        return [SCHEDULER]

    @property
    def inputs(self):
        return [InputParam("num_inference_steps", int, default=20, ge=1, description="denoising steps")]

    @property
    def intermediate_outputs(self):
        return [OutputParam("timesteps", "torch.Tensor", "the timesteps to run")]

    def __call__(self, components, state):
        bs = self.get_block_state(state)
        if bs.num_inference_steps < 1:
            raise ValueError(f"num_inference_steps must be at least 1, got {bs.num_inference_steps}")
        components.scheduler.set_timesteps(bs.num_inference_steps, device=components.unet.device)
        bs.timesteps = components.scheduler.timesteps
        self.set_block_state(state, bs)
        return components, state


class PrepareLatentsStep(ShapesBlock):
    description = "Draws the starting noise (pixel space, 3x32x32 per image)."

    @property
    def expected_components(self):
        return [UNET, SCHEDULER]

    @property
    def inputs(self):
        return [
            InputParam(
                "generator",
                "torch.Generator | list[torch.Generator]",
                description="random generator for reproducible images (one per image for a batch)",
            ),
            InputParam("latents", "torch.Tensor", description="starting noise instead of fresh noise"),
        ]

    @property
    def intermediate_inputs(self):
        return [InputParam("batch_size", int, required=True)]

    @property
    def intermediate_outputs(self):
        return [OutputParam("latents", "torch.Tensor", "noise to denoise")]

    def __call__(self, components, state):
        bs = self.get_block_state(state)
        unet = components.unet
        size = unet.config.sample_size
        shape = (bs.batch_size, unet.config.in_channels, size, size)
        latents = (
            bs.latents
            if bs.latents is not None
            else randn_tensor(shape, generator=bs.generator, device=unet.device, dtype=unet.dtype)
        )
        bs.latents = latents * components.scheduler.init_noise_sigma
        self.set_block_state(state, bs)
        return components, state


class _Step(PipelineBlock):
    model_name = "shapes"


class ScaleInput(_Step):
    def __call__(self, components, block_state, i, t):
        x = block_state.latents
        x = torch.cat([x, x]) if block_state.negative_prompt_embeds is not None else x
        block_state.model_input = components.scheduler.scale_model_input(x, t)
        return components, block_state


class GuidedUNet(_Step):
    @property
    def expected_components(self):
        return [UNET]

    def __call__(self, components, block_state, i, t):
        noise = components.unet(
            block_state.model_input, t, encoder_hidden_states=block_state.context, return_dict=False
        )[0]
        if block_state.negative_prompt_embeds is not None:
            noise = combine_guidance(noise, block_state.guidance_scale)
        block_state.noise_pred = noise
        return components, block_state


class SchedulerStep(SchedulerStepBlock):
    model_name = "shapes"
    scheduler_spec = SCHEDULER


class DenoiseLoop(DenoiseLoopBlocks):
    model_name = "shapes"
    block_classes = [ScaleInput, GuidedUNet, SchedulerStep]
    block_names = ["scale_input", "unet", "step"]
    description = "Denoises: per timestep, scale the input, one batched guided UNet call, scheduler step."

    @property
    def loop_inputs(self):
        return [
            InputParam("guidance_scale", float, default=4.0, ge=0),
            InputParam("generator", "torch.Generator | list[torch.Generator]"),
            InputParam("show_progress", bool, description="progress bar: None = only on a terminal"),
        ]

    @property
    def loop_intermediate_inputs(self):
        return [
            InputParam("timesteps", "torch.Tensor", required=True),
            InputParam("latents", "torch.Tensor", required=True),
            InputParam("prompt_embeds", "torch.Tensor", required=True),
            InputParam("negative_prompt_embeds", "torch.Tensor"),
        ]

    @property
    def loop_intermediate_outputs(self):
        return [OutputParam("latents", "torch.Tensor", "denoised images in [-1, 1]")]

    progress_desc = "shapes"

    def prepare(self, components, bs):
        neg = bs.negative_prompt_embeds
        bs.context = torch.cat([neg, bs.prompt_embeds]) if neg is not None else bs.prompt_embeds
        bs.step_kwargs = scheduler_step_kwargs(components.scheduler, generator=bs.generator)


class DecodeStep(ShapesBlock):
    description = "Turns denoised pixels into images ('pil', 'np' or 'pt')."

    @property
    def inputs(self):
        return [
            InputParam(
                "output_type",
                str,
                default="pil",
                choices=("pil", "np", "pt"),
                description="'pil', 'np' or 'pt'",
            )
        ]

    @property
    def intermediate_inputs(self):
        return [InputParam("latents", "torch.Tensor", required=True)]

    @property
    def intermediate_outputs(self):
        return [
            OutputParam("images", "list[PIL.Image.Image] | np.ndarray | torch.Tensor", "the generated images")
        ]

    def __call__(self, components, state):
        bs = self.get_block_state(state)
        pixels = (bs.latents.float().clamp(-1, 1) + 1) / 2
        if bs.output_type == "pt":
            bs.images = pixels
        elif bs.output_type in ("np", "pil"):
            arrays = pixels.permute(0, 2, 3, 1).cpu().numpy()
            if bs.output_type == "np":
                bs.images = arrays
            else:
                from PIL import Image

                bs.images = [Image.fromarray((a * 255).round().astype("uint8")) for a in arrays]
        else:
            raise ValueError(f"output_type must be 'pil', 'np' or 'pt', not {bs.output_type!r}")
        self.set_block_state(state, bs)
        return components, state


class Text2ImgBlocks(SequentialPipelineBlocks):
    model_name = "shapes"
    block_classes = [TextEncoderStep, SetTimestepsStep, PrepareLatentsStep, DenoiseLoop, DecodeStep]
    block_names = ["text_encoder", "set_timesteps", "prepare_latents", "denoise", "decode"]
    description = 'Draws "a {colour} {shape}" (red/green/blue/yellow; circle/square/triangle) at 32x32.'
