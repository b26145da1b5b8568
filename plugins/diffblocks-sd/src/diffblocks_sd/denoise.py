"""The denoising loop: scale input, one batched UNet call with classifier-free guidance, scheduler step."""

from __future__ import annotations

from typing import Any

import torch
from diffblocks import (
    DenoiseLoopBlocks,
    InputParam,
    OutputParam,
    PipelineBlock,
    SchedulerStepBlock,
    combine_guidance,
    scheduler_step_kwargs,
)

from .components import SCHEDULER, UNET


class _LoopStep(PipelineBlock):
    model_name = "sd"


class ScaleModelInput(_LoopStep):
    description = "Doubles the latents for guidance and scales them for the scheduler."

    @property
    def expected_components(self):
        return [SCHEDULER]

    @property
    def intermediate_inputs(self):
        return [InputParam("latents", "torch.Tensor", required=True)]

    def __call__(self, components, block_state, i, t):
        latents = block_state.latents
        model_input = torch.cat([latents] * 2) if block_state.do_classifier_free_guidance else latents
        block_state.latent_model_input = components.scheduler.scale_model_input(model_input, t)
        return components, block_state


class InpaintScaleModelInput(ScaleModelInput):
    description = "As ScaleModelInput; for 9-channel UNets also appends the mask and masked-image latents."

    def __call__(self, components, block_state, i, t):
        components, block_state = super().__call__(components, block_state, i, t)
        if block_state.unet_extra is not None:
            block_state.latent_model_input = torch.cat(
                [block_state.latent_model_input, block_state.unet_extra], dim=1
            )
        return components, block_state


class GuidedUNet(_LoopStep):
    description = "Predicts noise with one batched UNet call and combines the guidance branches."

    @property
    def expected_components(self):
        return [UNET]

    def __call__(self, components, block_state, i, t):
        noise = components.unet(
            block_state.latent_model_input,
            t,
            encoder_hidden_states=block_state.encoder_hidden_states,
            timestep_cond=block_state.timestep_cond,
            cross_attention_kwargs=block_state.cross_attention_kwargs,
            return_dict=False,
        )[0]
        if block_state.do_classifier_free_guidance:
            noise = combine_guidance(noise, block_state.guidance_scale, block_state.guidance_rescale)
        block_state.noise_pred = noise
        return components, block_state


class SchedulerStep(SchedulerStepBlock):
    model_name = "sd"
    scheduler_spec = SCHEDULER


class InpaintBlend(_LoopStep):
    description = (
        "4-channel inpainting: keeps the unmasked area at the original image, noised to the next step."
    )

    @property
    def expected_components(self):
        return [SCHEDULER]

    def __call__(self, components, block_state, i, t):
        if block_state.unet_extra is None:  # 4-channel UNet
            proper = block_state.image_latents
            timesteps = block_state.timesteps
            if i < len(timesteps) - 1:
                proper = components.scheduler.add_noise(
                    proper, block_state.noise, torch.tensor([timesteps[i + 1]])
                )
            mask = block_state.mask
            block_state.latents = (1 - mask) * proper + mask * block_state.latents
        return components, block_state


def guidance_embedding(w: torch.Tensor, dim: int, dtype: torch.dtype) -> torch.Tensor:
    """Sinusoidal embedding of the guidance scale, for UNets with ``time_cond_proj_dim`` (LCM)."""
    w = w * 1000.0
    half = dim // 2
    freq = torch.exp(torch.arange(half, dtype=dtype) * -(torch.log(torch.tensor(10000.0)) / (half - 1)))
    emb = w.to(dtype)[:, None] * freq[None, :]
    emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=1)
    return torch.nn.functional.pad(emb, (0, 1)) if dim % 2 == 1 else emb


class DenoiseLoop(DenoiseLoopBlocks):
    """Runs the sub-blocks once per timestep on one shared block state."""

    model_name = "sd"
    block_classes = [ScaleModelInput, GuidedUNet, SchedulerStep]
    block_names = ["scale_input", "unet", "step"]
    description = (
        "Denoises the latents: for each timestep scale input, run the UNet (guidance batched) and step."
    )

    @property
    def loop_expected_components(self):
        return [UNET, SCHEDULER]

    @property
    def loop_inputs(self):
        return [
            InputParam(
                "guidance_scale", float, default=7.5, ge=0, description="classifier-free guidance scale"
            ),
            InputParam(
                "guidance_rescale",
                float,
                default=0.0,
                ge=0,
                le=1,
                description="rescale guided noise (0 = off)",
            ),
            InputParam("eta", float, default=0.0, ge=0, description="DDIM eta (ignored by other schedulers)"),
            InputParam(
                "generator", "torch.Generator | list[torch.Generator]", description="random generator(s)"
            ),
            InputParam(
                "cross_attention_kwargs", dict, description="extra kwargs for the attention processors"
            ),
            InputParam(
                "callback_on_step_end",
                "Callable",
                description="called as f(components, i, t, {'latents': ...}) after each step; may return {'latents': new}",
            ),
            InputParam(
                "show_progress", bool, description="progress bar: None = only on a terminal, False = never"
            ),
        ]

    @property
    def loop_intermediate_inputs(self):
        return [
            InputParam("timesteps", "torch.Tensor", required=True),
            InputParam("num_inference_steps", int),
            InputParam("latents", "torch.Tensor", required=True),
            InputParam("prompt_embeds", "torch.Tensor", required=True),
            InputParam("negative_prompt_embeds", "torch.Tensor"),
            InputParam("do_classifier_free_guidance", bool),
        ]

    @property
    def loop_intermediate_outputs(self):
        return [OutputParam("latents", "torch.Tensor", "denoised latents")]

    def prepare(self, components: Any, bs: Any) -> None:
        """Work done once per call, not per step."""
        cfg = bool(bs.do_classifier_free_guidance) and bs.negative_prompt_embeds is not None
        bs.do_classifier_free_guidance = cfg
        bs.encoder_hidden_states = (
            torch.cat([bs.negative_prompt_embeds, bs.prompt_embeds]) if cfg else bs.prompt_embeds
        )
        bs.step_kwargs = scheduler_step_kwargs(components.scheduler, eta=bs.eta, generator=bs.generator)
        unet = components.unet
        bs.timestep_cond = None
        if unet.config.time_cond_proj_dim is not None:
            w = torch.tensor(bs.guidance_scale - 1).repeat(bs.prompt_embeds.shape[0])
            bs.timestep_cond = guidance_embedding(w, unet.config.time_cond_proj_dim, bs.latents.dtype).to(
                device=unet.device, dtype=bs.latents.dtype
            )
        bs.unet_extra = None


class InpaintDenoiseLoop(DenoiseLoop):
    block_classes = [InpaintScaleModelInput, GuidedUNet, SchedulerStep, InpaintBlend]
    block_names = ["scale_input", "unet", "step", "blend"]
    description = (
        "Denoises inpainting latents (9-channel: mask inputs to the UNet; 4-channel: blend each step)."
    )

    @property
    def loop_intermediate_inputs(self):
        return [
            *super().loop_intermediate_inputs,
            InputParam("mask", "torch.Tensor", required=True),
            InputParam("masked_image_latents", "torch.Tensor", required=True),
            InputParam("image_latents", "torch.Tensor"),
            InputParam("noise", "torch.Tensor"),
        ]

    def prepare(self, components: Any, bs: Any) -> None:
        super().prepare(components, bs)
        if components.unet.config.in_channels == 9:
            extra = torch.cat([bs.mask, bs.masked_image_latents], dim=1)
            bs.unet_extra = torch.cat([extra] * 2) if bs.do_classifier_free_guidance else extra
