"""ShapesPipeline: loads the shipped weights when it is created."""

from __future__ import annotations

from typing import Any

from diffblocks import ModularPipeline


class ShapesPipeline(ModularPipeline):
    """A ModularPipeline that fills any empty component from the weights inside the package."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.load_default_components()
