"""VAE decoding and post-processing to the requested output type."""

from __future__ import annotations

import torch
from diffblocks import InputParam, OutputParam

from .components import IMAGE_PROCESSOR, VAE
from .encode import SDBlock


class DecodeStep(SDBlock):
    description = "Decodes latents with the VAE; output_type is 'pil', 'np', 'pt' or 'latent'."

    @property
    def expected_components(self):
        return [VAE, IMAGE_PROCESSOR]

    @property
    def inputs(self):
        return [
            InputParam(
                "output_type",
                str,
                default="pil",
                choices=("pil", "np", "pt", "latent"),
                description="'pil', 'np', 'pt' or 'latent'",
            ),
            InputParam(
                "generator", "torch.Generator | list[torch.Generator]", description="random generator(s)"
            ),
        ]

    @property
    def intermediate_inputs(self):
        return [InputParam("latents", "torch.Tensor", required=True, description="denoised latents")]

    @property
    def intermediate_outputs(self):
        return [
            OutputParam("images", "list[PIL.Image.Image] | np.ndarray | torch.Tensor", "the generated images")
        ]

    @torch.no_grad()
    def __call__(self, components, state):
        bs = self.get_block_state(state)
        if bs.output_type not in ("pil", "np", "pt", "latent"):
            raise ValueError(f"output_type must be 'pil', 'np', 'pt' or 'latent', not {bs.output_type!r}")
        if bs.output_type == "latent":
            bs.images = bs.latents
        else:
            vae = components.vae
            latents = bs.latents.to(dtype=vae.dtype) / vae.config.scaling_factor
            image = vae.decode(latents, return_dict=False, generator=bs.generator)[0]
            bs.images = components.image_processor.postprocess(
                image, output_type=bs.output_type, do_denormalize=[True] * image.shape[0]
            )
        self.set_block_state(state, bs)
        return components, state
