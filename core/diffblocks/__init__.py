"""diffblocks: compose diffusion pipelines from reusable blocks."""

from __future__ import annotations

from ._aggregate import DefaultConflictWarning
from ._blocks import ModularPipelineBlocks, PipelineBlock
from ._dict import InsertableDict
from ._errors import (
    BlockDefinitionError,
    BlockExecutionError,
    DiffblocksError,
    MissingComponentError,
    MissingInputError,
    MissingOutputError,
    UnknownInputError,
)
from ._multi import AutoPipelineBlocks, LoopSequentialPipelineBlocks, SequentialPipelineBlocks
from ._params import ComponentLoadError, ComponentSpec, ConfigSpec, InputParam, OutputParam
from ._pipeline import Components, ModularPipeline
from ._state import BlockState, PipelineState

__version__ = "0.1.0"

__all__ = [
    "AutoPipelineBlocks",
    "BlockDefinitionError",
    "BlockExecutionError",
    "BlockState",
    "ComponentLoadError",
    "ComponentSpec",
    "Components",
    "ConfigSpec",
    "DefaultConflictWarning",
    "DiffblocksError",
    "InputParam",
    "InsertableDict",
    "LoopSequentialPipelineBlocks",
    "MissingComponentError",
    "MissingInputError",
    "MissingOutputError",
    "ModularPipeline",
    "ModularPipelineBlocks",
    "OutputParam",
    "PipelineBlock",
    "PipelineState",
    "SequentialPipelineBlocks",
    "UnknownInputError",
    "__version__",
]
