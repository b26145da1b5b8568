"""Prompt encoding (CLIP) and batch set-up, following StableDiffusionPipeline.encode_prompt."""

from __future__ import annotations

from typing import Any

import torch
from diffblocks import InputParam, OutputParam, PipelineBlock

from .components import TEXT_ENCODER, TOKENIZER


class SDBlock(PipelineBlock):
    model_name = "sd"


def _tokens(tokenizer: Any, text: Any, max_length: int) -> Any:
    return tokenizer(text, padding="max_length", max_length=max_length, truncation=True, return_tensors="pt")


def _encode(text_encoder: Any, tokens: Any, clip_skip: int | None) -> torch.Tensor:
    device = text_encoder.device
    use_mask = getattr(text_encoder.config, "use_attention_mask", False)
    mask = tokens.attention_mask.to(device) if use_mask else None
    ids = tokens.input_ids.to(device)
    if clip_skip is None:
        return text_encoder(ids, attention_mask=mask)[0]
    hidden = text_encoder(ids, attention_mask=mask, output_hidden_states=True)[-1][-(clip_skip + 1)]
    # transformers 5 flattened CLIPTextModel (no .text_model); older versions nest it
    return getattr(text_encoder, "text_model", text_encoder).final_layer_norm(hidden)


class TextEncoderStep(SDBlock):
    description = "Encodes prompt and negative_prompt with CLIP (or passes precomputed embeddings through)."

    @property
    def expected_components(self):
        return [TEXT_ENCODER, TOKENIZER]

    @property
    def inputs(self):
        return [
            InputParam("prompt", "str | list[str]", description="what to draw"),
            InputParam("negative_prompt", "str | list[str]", description="what to steer away from"),
            InputParam(
                "prompt_embeds", "torch.Tensor", description="precomputed prompt embeddings (skip encoding)"
            ),
            InputParam(
                "negative_prompt_embeds", "torch.Tensor", description="precomputed negative embeddings"
            ),
            InputParam("clip_skip", int, ge=0, description="number of final CLIP layers to skip"),
            InputParam(
                "guidance_scale",
                float,
                default=7.5,
                ge=0,
                description="classifier-free guidance scale; <= 1 disables it",
            ),
        ]

    @property
    def intermediate_outputs(self):
        return [
            OutputParam("prompt_embeds", "torch.Tensor", "prompt embeddings, one row per prompt"),
            OutputParam(
                "negative_prompt_embeds", "torch.Tensor", "negative embeddings, or None without guidance"
            ),
            OutputParam("do_classifier_free_guidance", bool, "whether guidance runs"),
        ]

    def __call__(self, components, state):
        bs = self.get_block_state(state)
        encoder, tokenizer = components.text_encoder, components.tokenizer
        if bs.prompt is None and bs.prompt_embeds is None:
            raise ValueError("give `prompt` or `prompt_embeds`")
        unet = components.get("unet") if "unet" in components else None  # config only: not moved
        bs.do_classifier_free_guidance = bs.guidance_scale > 1 and (
            unet is None or unet.config.time_cond_proj_dim is None
        )
        with torch.no_grad():
            embeds = bs.prompt_embeds
            if embeds is None:
                embeds = _encode(
                    encoder, _tokens(tokenizer, bs.prompt, tokenizer.model_max_length), bs.clip_skip
                )
            embeds = embeds.to(dtype=encoder.dtype, device=encoder.device)
            negative = bs.negative_prompt_embeds
            if bs.do_classifier_free_guidance and negative is None:
                n_prompts = (
                    1
                    if isinstance(bs.prompt, str)
                    else len(bs.prompt)
                    if bs.prompt is not None
                    else embeds.shape[0]
                )
                negative = _encode(
                    encoder,
                    _tokens(
                        tokenizer, self._uncond(bs.prompt, bs.negative_prompt, n_prompts), embeds.shape[1]
                    ),
                    None,
                )
            if negative is not None:
                negative = negative.to(dtype=encoder.dtype, device=encoder.device)
        bs.prompt_embeds, bs.negative_prompt_embeds = (
            embeds,
            negative if bs.do_classifier_free_guidance else None,
        )
        self.set_block_state(state, bs)
        return components, state

    @staticmethod
    def _uncond(prompt: Any, negative: Any, n_prompts: int) -> list[str]:
        if negative is None:
            return [""] * n_prompts
        if prompt is not None and type(prompt) is not type(negative):
            raise TypeError(
                f"negative_prompt is a {type(negative).__name__} but prompt is a {type(prompt).__name__}; "
                f"give both as str or both as lists"
            )
        if isinstance(negative, str):
            return [negative]
        if len(negative) != n_prompts:
            raise ValueError(
                f"negative_prompt has {len(negative)} entries but prompt has {n_prompts}; give one per prompt"
            )
        return list(negative)


class InputStep(SDBlock):
    description = "Sets batch_size and dtype, and repeats the embeddings num_images_per_prompt times."

    @property
    def inputs(self):
        return [
            InputParam("num_images_per_prompt", int, default=1, ge=1, description="images to make per prompt")
        ]

    @property
    def intermediate_inputs(self):
        return [
            InputParam("prompt_embeds", "torch.Tensor", required=True, description="prompt embeddings"),
            InputParam("negative_prompt_embeds", "torch.Tensor", description="negative embeddings"),
        ]

    @property
    def intermediate_outputs(self):
        return [
            OutputParam("batch_size", int, "number of prompts (before num_images_per_prompt)"),
            OutputParam("dtype", "torch.dtype", "dtype of the embeddings, used for latents"),
            OutputParam("prompt_embeds", "torch.Tensor", "embeddings repeated per image"),
            OutputParam("negative_prompt_embeds", "torch.Tensor", "negative embeddings repeated per image"),
        ]

    def __call__(self, components, state):
        bs = self.get_block_state(state)
        n = bs.num_images_per_prompt
        bs.batch_size, bs.dtype = bs.prompt_embeds.shape[0], bs.prompt_embeds.dtype
        bs.prompt_embeds = _repeat(bs.prompt_embeds, n)
        if bs.negative_prompt_embeds is not None:
            bs.negative_prompt_embeds = _repeat(bs.negative_prompt_embeds, n)
        self.set_block_state(state, bs)
        return components, state


def _repeat(embeds: torch.Tensor, n: int) -> torch.Tensor:
    b, seq, _ = embeds.shape
    return embeds.repeat(1, n, 1).view(b * n, seq, -1)
