"""StableDiffusionModularPipeline: the `sd` family's pipeline class."""

from __future__ import annotations

from typing import Any

from diffblocks import ModularPipeline

from .components import vae_scale_factor


class StableDiffusionModularPipeline(ModularPipeline):
    """A ModularPipeline whose image processors follow the VAE, with an opt-in compiled fast path."""

    def update_components(self, **kwargs: Any) -> None:
        super().update_components(**kwargs)
        if kwargs.get("vae") is not None:
            self._refresh_processors()

    def load_components(self, *args: Any, **kwargs: Any) -> None:
        super().load_components(*args, **kwargs)
        self._refresh_processors()

    def _refresh_processors(self) -> None:
        comps = self.components
        vae = comps.get("vae")
        if vae is None:
            return
        factor = vae_scale_factor(vae)
        for name in ("image_processor", "mask_processor"):
            if name not in comps.names:
                continue
            current = comps.get(name)
            if current is None or current.config.vae_scale_factor != factor:
                # stored directly: going through update_components would come back here
                comps.set(name, comps.spec(name).create(vae_scale_factor=factor))

    @property
    def vae_scale_factor(self) -> int:
        return vae_scale_factor(self.components.get("vae"))

    def compile(
        self, mode: str = "max-autotune-no-cudagraphs", fullgraph: bool = True
    ) -> StableDiffusionModularPipeline:
        """Opt-in fast path: channels-last memory format and torch.compile for the UNet (and VAE decoder)."""
        import torch

        unet = self.components.get("unet")
        unet.to(memory_format=torch.channels_last)
        unet.forward = torch.compile(unet.forward, mode=mode, fullgraph=fullgraph)
        vae = self.components.get("vae")
        if vae is not None:
            vae.to(memory_format=torch.channels_last)
            vae.decoder.forward = torch.compile(vae.decoder.forward, mode=mode, fullgraph=fullgraph)
        return self
