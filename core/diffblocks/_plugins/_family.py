"""Model families: a named set of components, configs, workflows and a pipeline class."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._model._imports import import_target
from .._model._params import ComponentSpec, ConfigSpec


@dataclass
class ModelFamily:
    """What a model family contributes.

    ``workflows`` maps a workflow name to a registered block name (``{"text2img": "sd.text2img"}``);
    ``pipeline_class`` (a ModularPipeline subclass, or ``"module:attr"`` imported on first use) is
    used when a block of this family becomes a pipeline.
    """

    name: str
    description: str = ""
    components: list[ComponentSpec] = field(default_factory=list)
    configs: list[ConfigSpec] = field(default_factory=list)
    workflows: dict[str, str] = field(default_factory=dict)
    pipeline_class: Any = None
    distribution: str | None = None
    version: str | None = None

    def resolve_pipeline_class(self) -> Any:
        cls = self.pipeline_class
        if isinstance(cls, str):
            from ._loading import plugin_code  # (it imports this module)

            with plugin_code(f"the pipeline class of family {self.name!r} ({self.distribution})"):
                self.pipeline_class = cls = import_target(cls)
        if cls is None:
            from .._runtime._pipeline import ModularPipeline

            return ModularPipeline
        return cls
