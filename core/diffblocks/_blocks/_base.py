"""The block contract: ModularPipelineBlocks (every block) and PipelineBlock (a leaf)."""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any

from .._model._params import ComponentSpec, ConfigSpec, InputParam, OutputParam
from .._model._state import BlockState, PipelineState
from ._access import Getter, Setter, build_accessors

if TYPE_CHECKING:
    from .._analysis._validate import ValidationReport
    from .._runtime._pipeline import ModularPipeline
    from ._plan import At, Walk


def _services() -> ModuleType:
    """The blocks layer's one upward call: the seed's API puts init_pipeline, doc, repr and
    validate on blocks, and ``diffblocks._services`` provides them from the layers above."""
    from .. import _services as services

    return services


@dataclasses.dataclass(frozen=True)
class BlockOrigin:
    """Where a block came from, beyond its class. Set by the registry, ``compose`` and spec files;
    read by ``save_spec`` and pipelines. Frozen: replace it with ``dataclasses.replace``."""

    #: the registered name this block was created from (``registry.get_block``), if any
    registered_name: str | None = None
    #: built by ``compose()`` or a spec file from names, so it saves as those names
    composed: bool = False
    #: a spec file's ``[inputs]`` values: defaults for the pipeline's caller
    spec_inputs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    #: a spec file's ``[components]`` table: how to load each component
    spec_components: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    #: a spec file's ``description``
    spec_description: str | None = None


class ModularPipelineBlocks:
    """A block definition: what it reads, writes and needs, and how it runs.

    Blocks are definitions, not runnable pipelines: ``init_pipeline()`` turns one into a
    :class:`ModularPipeline`. Subclasses override the declaration properties below.
    """

    model_name: str | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        from ._checks import check_declarations

        check_declarations(cls)  # misspelled declarations, methods that should be properties

    #: Where this block came from (registered name, composition, spec-file values).
    origin: BlockOrigin = BlockOrigin()

    @property
    def description(self) -> str:
        return ""

    @property
    def inputs(self) -> list[InputParam]:
        return []

    @property
    def intermediate_inputs(self) -> list[InputParam]:
        return []

    @property
    def intermediate_outputs(self) -> list[OutputParam]:
        return []

    @property
    def expected_components(self) -> list[ComponentSpec]:
        return []

    @property
    def expected_configs(self) -> list[ConfigSpec]:
        return []

    @property
    def trigger_inputs(self) -> list[str]:
        return []

    # -- derived views --------------------------------------------------------------------
    @property
    def required_inputs(self) -> list[str]:
        return [p.name for p in self.inputs if p.required and p.name]

    @property
    def required_intermediate_inputs(self) -> list[str]:
        return [p.name for p in self.intermediate_inputs if p.required and p.name]

    @property
    def input_names(self) -> list[str]:
        """Every value name a caller may pass: inputs then intermediate inputs, no repeats."""
        names: dict[str, None] = {}
        for p in [*self.inputs, *self.intermediate_inputs]:
            if p.name:
                names.setdefault(p.name)
        return list(names)

    @property
    def output_names(self) -> list[str]:
        return [o.name for o in self.intermediate_outputs]

    @property
    def component_names(self) -> list[str]:
        return [c.name for c in self.expected_components]

    def _always_outputs(self) -> frozenset[str]:
        """Names this block produces whenever it runs (multi-blocks refine this)."""
        return frozenset(self.output_names)

    # -- state access ---------------------------------------------------------------------
    def get_block_state(self, state: PipelineState) -> BlockState:
        get, _ = self._accessors()
        return get(state)

    def set_block_state(self, state: PipelineState, block_state: BlockState) -> None:
        _, put = self._accessors()
        put(state, block_state)

    def _accessors(self) -> tuple[Getter, Setter]:
        return build_accessors(
            type(self).__name__, self.inputs, self.intermediate_inputs, self.intermediate_outputs
        )

    # -- running --------------------------------------------------------------------------
    def __call__(self, components: Any, state: PipelineState) -> tuple[Any, PipelineState]:
        raise NotImplementedError(
            f"{type(self).__name__} must implement __call__(self, components, state) and return "
            f"(components, state)"
        )

    def _plan(self, walk: Walk, at: At) -> None:
        """This block's part in the one walk of a block tree (``_plan.py``): a leaf runs whole."""
        walk.whole(self, at)

    def _sub_block_rows(self) -> list[tuple[str, ModularPipelineBlocks, str]] | None:
        """(name, block, tag) of each sub-block, as repr lists them; None for a leaf."""
        return None

    def get_execution_blocks(self, *names: str, **values: Any) -> ModularPipelineBlocks | None:
        """The blocks that would run when ``names`` (and ``values`` that are not None) are given,
        as a SequentialPipelineBlocks.

        Conditional blocks are resolved recursively, and a block one of them chose is keyed by
        that conditional block's name; outputs of kept blocks count as present for later
        triggers; loops stay whole. On a conditional block itself it returns the chosen block.
        """
        from ._multi import SequentialPipelineBlocks
        from ._plan import plan

        runs = plan(self, {**dict.fromkeys(names, True), **values})
        return SequentialPipelineBlocks.from_blocks_dict(runs.keyed_blocks())

    def validate(self) -> ValidationReport:
        """Check the data flow statically; raise CompositionError listing every problem.

        Returns a report of the inputs the pipeline asks from its caller (a required input that
        nothing provides is a pipeline input, not a problem).
        """
        report: ValidationReport = _services().validate(self)
        return report

    def init_pipeline(
        self, path: str | os.PathLike[str] | None = None, components_manager: Any = None, **kwargs: Any
    ) -> ModularPipeline:
        """A runnable pipeline over this block. ``path`` loads components from a local folder."""
        pipeline: ModularPipeline = _services().make_pipeline(self, path, components_manager, **kwargs)
        return pipeline

    # -- printing -------------------------------------------------------------------------
    @property
    def doc(self) -> str:
        return str(_services().render_doc(self))

    def __repr__(self) -> str:
        return str(_services().render_repr(self))


class PipelineBlock(ModularPipelineBlocks):
    """A leaf block. Implement ``__call__(components, state)``: typically
    ``get_block_state`` -> compute -> ``set_block_state``.

    Declarations are read once, on the first state access, into the two accessor functions; a
    leaf's declarations must not change afterwards.
    """

    @functools.cached_property
    def _accessor_pair(self) -> tuple[Getter, Setter]:
        return self._accessors()

    # Cached properties holding the accessor functions themselves: after the first access,
    # ``self.get_block_state(state)`` finds the function in the instance dict and calls it
    # directly, with no method in between (this runs twice per block per call).
    @functools.cached_property
    def get_block_state(self) -> Getter:  # type: ignore[override]
        """``get_block_state(state) -> BlockState``: this block's values from ``state``."""
        return self._accessor_pair[0]

    @functools.cached_property
    def set_block_state(self) -> Setter:  # type: ignore[override]
        """``set_block_state(state, block_state)``: write this block's outputs into ``state``."""
        return self._accessor_pair[1]


__all__ = ["BlockOrigin", "ModularPipelineBlocks", "PipelineBlock"]
