"""What blocks reach upward for.

The seed's API puts ``init_pipeline()``, ``doc``, ``repr()`` and ``validate()`` on every block,
while pipelines, model families, rendering and validation live in layers above the blocks. This
module is the blocks layer's one upward call (``ModularPipelineBlocks`` imports it lazily); nothing
else in the blocks layer imports upward (``tests/test_layers.py`` checks).
"""

from __future__ import annotations

import os
from typing import Any

from ._analysis._render import render_doc, render_repr
from ._analysis._validate import ValidationReport, validate
from ._blocks._base import ModularPipelineBlocks
from ._plugins._registry import get_registry
from ._runtime._pipeline import ModularPipeline


def make_pipeline(
    blocks: ModularPipelineBlocks,
    path: str | os.PathLike[str] | None,
    components_manager: Any,
    **kwargs: Any,
) -> ModularPipeline:
    """The pipeline factory behind ``blocks.init_pipeline()``: the registered family of the
    block's ``model_name`` picks the pipeline class, and plugins' component loaders come along."""
    registry = get_registry()
    cls: Any = ModularPipeline
    family = registry.find_family(blocks.model_name) if blocks.model_name else None
    if family is not None:
        cls = family.resolve_pipeline_class()
        kwargs.setdefault("family", family)
    kwargs.setdefault("component_loaders", registry.component_loaders())
    pipeline: ModularPipeline = cls(blocks, path=path, components_manager=components_manager, **kwargs)
    return pipeline


__all__ = ["ValidationReport", "make_pipeline", "render_doc", "render_repr", "validate"]
