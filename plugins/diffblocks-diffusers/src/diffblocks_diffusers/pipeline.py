"""The pipeline class of the diffusers families."""

from __future__ import annotations

from typing import Any

from diffblocks import ModularPipeline


class DiffusersModularPipeline(ModularPipeline):
    """A diffblocks pipeline over diffusers' blocks; ``to`` also takes a dtype, as diffusers' does."""

    def to(self, device: Any = None, dtype: Any = None) -> DiffusersModularPipeline:
        """Move (and with ``dtype``, cast) every loaded model component."""
        for name, value in self.components.items():
            if value is not None and hasattr(value, "to") and hasattr(value, "parameters"):
                kwargs = {k: v for k, v in (("device", device), ("dtype", dtype)) if v is not None}
                self.components.set(name, value.to(**kwargs))
        return self
