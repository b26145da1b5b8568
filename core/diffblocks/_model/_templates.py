"""Named parameter templates: ``InputParam.template("prompt")``, ``OutputParam.template("images")``.

The names, types, defaults and ``required`` flags are those Modular Diffusers 0.42 uses, so blocks
from different authors agree on them; the descriptions are ours. Types that live in torch or PIL
are looked up only when a template that needs them is used, so importing diffblocks stays light.
"""

from __future__ import annotations

from collections.abc import Callable
from types import GenericAlias
from typing import Any

from ._errors import BlockDefinitionError, suggest
from ._imports import import_target


class _Later:
    """A template value that needs torch or PIL: resolved on use; ``fallback`` if not installed."""

    __slots__ = ("make", "fallback")

    def __init__(self, make: Callable[[], Any], fallback: Any) -> None:
        self.make, self.fallback = make, fallback

    def resolve(self) -> Any:
        try:
            return self.make()
        except ImportError:
            return self.fallback


def _obj(target: str) -> _Later:
    return _Later(lambda: import_target(target), target)


def _image_or_images() -> _Later:
    def make() -> Any:
        image = import_target("PIL.Image:Image")
        return image | GenericAlias(list, image)

    return _Later(make, "PIL.Image:Image")


def _image_list() -> _Later:
    return _Later(lambda: GenericAlias(list, import_target("PIL.Image:Image")), list[Any])


_TENSOR = _obj("torch:Tensor")
_IMAGE = _obj("PIL.Image:Image")

INPUT_TEMPLATES: dict[str, dict[str, Any]] = {
    "prompt": {
        "type_hint": str,
        "required": True,
        "description": "What to generate, as text (one or a list).",
    },
    "negative_prompt": {"type_hint": str, "description": "What to steer away from, as text."},
    "max_sequence_length": {
        "type_hint": int,
        "default": 512,
        "description": "Longest token sequence the text encoder is given.",
    },
    "height": {"type_hint": int, "description": "Height of the output in pixels."},
    "width": {"type_hint": int, "description": "Width of the output in pixels."},
    "num_inference_steps": {
        "type_hint": int,
        "default": 50,
        "description": "How many denoising steps to run.",
    },
    "num_images_per_prompt": {"type_hint": int, "default": 1, "description": "Outputs made for each prompt."},
    "generator": {
        "type_hint": _obj("torch:Generator"),
        "description": "Random generator, for repeatable runs.",
    },
    "sigmas": {
        "type_hint": list[float],
        "description": "Noise levels to use instead of the scheduler's own.",
    },
    "strength": {
        "type_hint": float,
        "default": 0.9,
        "description": "How far the input image is noised before denoising (0 keeps it, 1 replaces it).",
    },
    "image": {
        "type_hint": _image_or_images(),
        "required": True,
        "description": "The input image, or a list of them.",
    },
    "latents": {"type_hint": _TENSOR, "description": "Starting noisy latents, instead of fresh noise."},
    "timesteps": {"type_hint": _TENSOR, "description": "Timesteps to use instead of the scheduler's own."},
    "output_type": {
        "type_hint": str,
        "default": "pil",
        "description": "Form of the result: 'pil', 'np' or 'pt'.",
    },
    "attention_kwargs": {
        "type_hint": dict[str, Any],
        "description": "Extra keyword arguments for the attention processors.",
    },
    "denoiser_input_fields": {
        "name": None,
        "kwargs_type": "denoiser_input_fields",
        "description": "Every value tagged as a denoiser input (prompt embeddings and the like).",
    },
    "mask_image": {
        "type_hint": _IMAGE,
        "required": True,
        "description": "Where to repaint: white is repainted, black is kept.",
    },
    "padding_mask_crop": {"type_hint": int, "description": "Margin kept around the mask when cropping."},
    "control_image": {
        "type_hint": _IMAGE,
        "required": True,
        "description": "The conditioning image for ControlNet.",
    },
    "control_guidance_start": {
        "type_hint": float,
        "default": 0.0,
        "description": "Fraction of the steps after which ControlNet starts to act.",
    },
    "control_guidance_end": {
        "type_hint": float,
        "default": 1.0,
        "description": "Fraction of the steps after which ControlNet stops acting.",
    },
    "controlnet_conditioning_scale": {
        "type_hint": float,
        "default": 1.0,
        "description": "Weight of the ControlNet residuals.",
    },
    "layers": {"type_hint": int, "default": 4, "description": "How many layers to split the image into."},
    "prompt_embeds": {
        "type_hint": _TENSOR,
        "required": True,
        "description": "Text embeddings that guide generation (a text encoder step makes them).",
    },
    "prompt_embeds_mask": {
        "type_hint": _TENSOR,
        "required": True,
        "description": "Attention mask of the text embeddings.",
    },
    "negative_prompt_embeds": {
        "type_hint": _TENSOR,
        "description": "Text embeddings to steer away from.",
    },
    "negative_prompt_embeds_mask": {
        "type_hint": _TENSOR,
        "description": "Attention mask of the negative text embeddings.",
    },
    "image_latents": {
        "type_hint": _TENSOR,
        "required": True,
        "description": "The input image in latent space (a VAE encoder step makes it).",
    },
    "batch_size": {
        "type_hint": int,
        "default": 1,
        "description": "Number of prompts; model inputs have batch_size * num_images_per_prompt rows.",
    },
    "dtype": {
        "type_hint": _obj("torch:dtype"),
        "default": _obj("torch:float32"),
        "description": "Data type of the model inputs.",
    },
}

OUTPUT_TEMPLATES: dict[str, dict[str, Any]] = {
    "images": {"type_hint": _image_list(), "description": "The generated images."},
    "videos": {"type_hint": _image_list(), "description": "The generated videos, as lists of frames."},
    "latents": {"type_hint": _TENSOR, "description": "The latents after denoising."},
    "prompt_embeds": {
        "type_hint": _TENSOR,
        "kwargs_type": "denoiser_input_fields",
        "description": "Text embeddings of the prompt.",
    },
    "prompt_embeds_mask": {
        "type_hint": _TENSOR,
        "kwargs_type": "denoiser_input_fields",
        "description": "Attention mask of the prompt embeddings.",
    },
    "negative_prompt_embeds": {
        "type_hint": _TENSOR,
        "kwargs_type": "denoiser_input_fields",
        "description": "Text embeddings of the negative prompt.",
    },
    "negative_prompt_embeds_mask": {
        "type_hint": _TENSOR,
        "kwargs_type": "denoiser_input_fields",
        "description": "Attention mask of the negative prompt embeddings.",
    },
    "image_latents": {"type_hint": _TENSOR, "description": "The input image in latent space."},
}


def template_fields(
    kind: str,
    table: dict[str, dict[str, Any]],
    template_name: str,
    note: str | None,
    overrides: dict[str, Any],
) -> dict[str, Any]:
    """The constructor keywords for one template: its fields, a ``note`` appended to the
    description in brackets, then ``overrides`` (``name=`` included) on top."""
    entry = table.get(template_name)
    if entry is None:
        hint = suggest(template_name, table)
        raise BlockDefinitionError(
            f"there is no {kind} template named {template_name!r}.{hint} Templates: {', '.join(table)}"
        )
    fields = {k: v.resolve() if isinstance(v, _Later) else v for k, v in entry.items()}
    fields.setdefault("name", template_name)
    if note and fields.get("description"):
        fields["description"] = f"{fields['description']} ({note})"
    fields.update(overrides)
    return fields


__all__ = ["INPUT_TEMPLATES", "OUTPUT_TEMPLATES", "template_fields"]
