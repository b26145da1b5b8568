"""diffblocks: compose diffusion pipelines from reusable blocks."""

from __future__ import annotations

from ._analysis._validate import ValidationReport
from ._blocks._aggregate import DefaultConflictWarning
from ._blocks._base import BlockOrigin, ModularPipelineBlocks, PipelineBlock
from ._blocks._conditional import AutoPipelineBlocks, ConditionalPipelineBlocks
from ._blocks._loop import LoopSequentialPipelineBlocks
from ._blocks._multi import SequentialPipelineBlocks
from ._compose._compose import compose
from ._compose._specfile import load_spec
from ._compose._specsave import save_spec, spec_dict
from ._model._checks import InvalidInputError
from ._model._dict import InsertableDict
from ._model._errors import (
    BadReturnError,
    BlockDefinitionError,
    BlockExecutionError,
    BlockImportError,
    BlockNotFoundError,
    CompositionError,
    DiffblocksError,
    MissingComponentError,
    MissingInputError,
    MissingOutputError,
    NameConflictError,
    PluginError,
    Problem,
    UnknownInputError,
    UnknownOutputError,
)
from ._model._params import ComponentLoadError, ComponentSpec, ConfigSpec, InputParam, OutputParam
from ._model._state import BlockState, PipelineState
from ._model._version import __version__
from ._plugins._family import ModelFamily
from ._plugins._registry import (
    BlockEntry,
    Registry,
    RegistryProxy,
    get_block,
    get_family,
    list_blocks,
    list_families,
    list_plugins,
    use_registry,
)
from ._runtime._denoise import DenoiseLoopBlocks, SchedulerStepBlock, combine_guidance, scheduler_step_kwargs
from ._runtime._manager import ComponentsManager
from ._runtime._pipeline import Components, ModularPipeline
from ._runtime._progress import progress_bar

#: The registry in use (installed plugins, plus run-time registrations); see ``use_registry``.
registry = RegistryProxy()


def __getattr__(name: str) -> object:
    # pluggy is imported only when a plugin asks for its markers, keeping `import diffblocks` light
    if name in ("hookimpl", "hookspec"):
        from ._plugins import _hookspecs

        return getattr(_hookspecs, name)
    raise AttributeError(f"module 'diffblocks' has no attribute {name!r}")


__all__ = [
    "AutoPipelineBlocks",
    "BadReturnError",
    "BlockOrigin",
    "BlockDefinitionError",
    "BlockEntry",
    "BlockExecutionError",
    "BlockImportError",
    "BlockNotFoundError",
    "BlockState",
    "ComponentLoadError",
    "ComponentSpec",
    "Components",
    "ComponentsManager",
    "CompositionError",
    "ConditionalPipelineBlocks",
    "ConfigSpec",
    "DefaultConflictWarning",
    "DenoiseLoopBlocks",
    "DiffblocksError",
    "InputParam",
    "InsertableDict",
    "InvalidInputError",
    "LoopSequentialPipelineBlocks",
    "MissingComponentError",
    "MissingInputError",
    "MissingOutputError",
    "ModelFamily",
    "ModularPipeline",
    "ModularPipelineBlocks",
    "NameConflictError",
    "OutputParam",
    "PipelineBlock",
    "PluginError",
    "Problem",
    "PipelineState",
    "Registry",
    "SchedulerStepBlock",
    "SequentialPipelineBlocks",
    "UnknownInputError",
    "UnknownOutputError",
    "ValidationReport",
    "__version__",
    "combine_guidance",
    "compose",
    "get_block",
    "get_family",
    "hookimpl",
    "hookspec",
    "list_blocks",
    "list_families",
    "list_plugins",
    "load_spec",
    "progress_bar",
    "registry",
    "save_spec",
    "scheduler_step_kwargs",
    "spec_dict",
    "use_registry",
]
