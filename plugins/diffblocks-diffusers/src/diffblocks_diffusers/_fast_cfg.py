"""One UNet call per step for classifier-free guidance in SDXL's denoising loop.

diffusers' modular guider splits the model inputs into one batch per condition and runs the UNet
once per batch (twice at batch 1 for CFG). When the guider does nothing to the model between
batches (its ``prepare_models``/``cleanup_models`` are the base ones, as for CFG, APG, CFG-Zero*,
tangential CFG...), the batches can run as one concatenated UNet call, which is what the classic
``StableDiffusionXLPipeline`` does. Guiders that hook the model (PAG, skip-layer, SEG, auto
guidance) keep diffusers' per-batch path.

:func:`replace_loop_steps` swaps the denoiser step inside a diffusers loop for its batched
subclass; the declarations, the guider call and every other step stay diffusers' own.
"""

from __future__ import annotations

from typing import Any

import torch
from diffusers.guiders.guider_utils import BaseGuidance
from diffusers.modular_pipelines import modular_pipeline as dmp
from diffusers.modular_pipelines.stable_diffusion_xl.denoise import StableDiffusionXLLoopDenoiser


def batchable(guider: Any) -> bool:
    """True when running all of ``guider``'s batches in one model call gives the same result."""
    cls = type(guider)
    return (
        isinstance(guider, BaseGuidance)
        and cls.prepare_models is BaseGuidance.prepare_models
        and cls.cleanup_models is BaseGuidance.cleanup_models
        and guider.num_conditions > 1
    )


def _concat(batches: list[Any], key: str) -> Any:
    """One field of every batch concatenated on dim 0; None if all are None; raise if mixed."""
    values = [getattr(b, key, None) for b in batches]
    if all(v is None for v in values):
        return None
    if not all(isinstance(v, torch.Tensor) for v in values) or len({v.shape for v in values}) != 1:
        raise _NotBatchable
    return torch.cat(values)


class _NotBatchable(Exception):
    pass


class BatchedStableDiffusionXLLoopDenoiser(StableDiffusionXLLoopDenoiser):
    """StableDiffusionXLLoopDenoiser with all guidance batches in one UNet call."""

    #: (UNet argument, conditional field, unconditional field), as diffusers' denoiser maps them
    FIELDS = (
        ("prompt_embeds", "prompt_embeds", "negative_prompt_embeds"),
        ("time_ids", "add_time_ids", "negative_add_time_ids"),
        ("text_embeds", "pooled_prompt_embeds", "negative_pooled_prompt_embeds"),
        ("image_embeds", "ip_adapter_embeds", "negative_ip_adapter_embeds"),
    )

    @torch.no_grad()
    def __call__(self, components: Any, block_state: Any, i: int, t: Any) -> tuple[Any, Any]:
        guider = components.guider
        guider.set_state(step=i, num_inference_steps=block_state.num_inference_steps, timestep=t)
        if not batchable(guider):
            return super().__call__(components, block_state, i, t)
        guider_inputs = {
            arg: (getattr(block_state, cond, None), getattr(block_state, uncond, None))
            for arg, cond, uncond in self.FIELDS
        }
        batches = guider.prepare_inputs(guider_inputs)
        try:
            fields = {arg: _concat(batches, arg) for arg, _, _ in self.FIELDS}
        except _NotBatchable:
            return super().__call__(components, block_state, i, t)
        n = len(batches)
        for _ in batches:
            guider.prepare_models(components.unet)
        latents = block_state.scaled_latents
        cond = block_state.timestep_cond
        noise = components.unet(
            torch.cat([latents] * n),
            t,
            encoder_hidden_states=fields.pop("prompt_embeds"),
            timestep_cond=torch.cat([cond] * n) if cond is not None else None,
            cross_attention_kwargs=block_state.cross_attention_kwargs,
            added_cond_kwargs=fields,
            return_dict=False,
        )[0]
        for batch, pred in zip(batches, noise.chunk(n)):
            batch.noise_pred = pred
            guider.cleanup_models(components.unet)
        block_state.noise_pred = guider(batches)[0]
        return components, block_state


#: diffusers step class -> its batched replacement (exact class match only)
REPLACEMENTS: dict[type, type] = {StableDiffusionXLLoopDenoiser: BatchedStableDiffusionXLLoopDenoiser}


def replace_loop_steps(block: Any) -> None:
    """Swap replaceable steps inside a diffusers loop block (in place; the block is our own copy)."""
    if not isinstance(block, dmp.LoopSequentialPipelineBlocks):
        return
    for name, sub in list(block.sub_blocks.items()):
        replacement = REPLACEMENTS.get(type(sub))
        if replacement is not None:
            block.sub_blocks[name] = replacement()
