"""Multi-blocks: the shared base (sub-blocks, cached declarations) and SequentialPipelineBlocks.

Conditional and Auto blocks are in ``_conditional``, loops in ``_loop``; what runners do when a
sub-block fails is in ``_failures``."""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any, TypeVar

from .._model._dict import InsertableDict, pairs
from .._model._errors import (
    BlockDefinitionError,
    suggest,
)
from .._model._params import ComponentSpec, ConfigSpec, InputParam, OutputParam
from .._model._state import PipelineState
from ._aggregate import Declarations, aggregate_sequential
from ._base import ModularPipelineBlocks
from ._failures import annotate, bad_return, failed_position
from ._plan import At, Walk, plan

_M = TypeVar("_M", bound="_MultiBlocks")


def as_block(name: Any, value: Any) -> ModularPipelineBlocks:
    """Validate a sub-block name and turn a block class into an instance."""
    if not isinstance(name, str) or not name or "." in name:
        raise BlockDefinitionError(
            f"sub-block name {name!r} is invalid: use a non-empty string without '.' "
            f"('.' separates the parts of a block path)"
        )
    if isinstance(value, type) and issubclass(value, ModularPipelineBlocks):
        return value()
    if isinstance(value, ModularPipelineBlocks):
        return value
    raise BlockDefinitionError(
        f"sub-block {name!r} is {value!r}, not a block: give a ModularPipelineBlocks subclass or instance"
    )


class SubBlocks(InsertableDict[str, ModularPipelineBlocks]):
    """The sub-blocks of a multi-block. Classes assigned here are instantiated, and every change
    tells the owning multi-block, which drops its cached declarations (and tells its parents)."""

    _owner: weakref.ref[_MultiBlocks] | None = None

    def _changed(self) -> None:
        owner = self._owner() if self._owner is not None else None
        if owner is not None:
            owner._structure_changed()

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, as_block(key, value))

    def insert(self, key: str, value: Any, index: int) -> None:
        super().insert(key, as_block(key, value), index)


class _MultiBlocks(ModularPipelineBlocks):
    block_classes: list[Any] = []
    block_names: list[str] = []
    #: Bumped whenever the sub-blocks here or anywhere below change; caches compare it.
    structure_version: int = 0
    _cache: tuple[int, Any, Any, Any] | None = None
    _parents: tuple[weakref.ref[_MultiBlocks], ...] = ()
    #: Conditional blocks return their chosen sub-block's result as it is (named in bad-return errors)
    _returns_chosen_result: bool = False

    def __init__(self) -> None:
        classes, names = list(type(self).block_classes), list(type(self).block_names)
        if len(classes) != len(names):
            raise BlockDefinitionError(
                f"{type(self).__name__}: block_classes has {len(classes)} entries but block_names "
                f"has {len(names)}; give one name per block"
            )
        self._set_sub_blocks(zip(names, classes))

    @classmethod
    def from_blocks_dict(cls: type[_M], blocks_dict: Any, description: str | None = None) -> _M:
        """Build from a mapping (or pairs) of name -> block class or instance, optionally with
        a description of the whole."""
        inst = cls.__new__(cls)
        if description is not None:
            inst._description = description
        inst._set_sub_blocks(pairs(blocks_dict))
        return inst

    _description: str = ""  # from from_blocks_dict(..., description=...)

    @property
    def description(self) -> str:
        return self._description

    def _set_sub_blocks(self, items: Iterable[tuple[Any, Any]]) -> None:
        subs = SubBlocks()
        for name, value in items:
            if name in subs:
                raise BlockDefinitionError(
                    f"{type(self).__name__}: two sub-blocks are named {name!r}; sub-block names "
                    f"must be unique (rename one, e.g. {name}_2)"
                )
            OrderedDict.__setitem__(subs, name, as_block(name, value))
        subs._owner = weakref.ref(self)
        self._sub_blocks = subs
        self._check_structure()
        self._structure_changed()

    def _structure_changed(self) -> None:
        """Drop cached declarations here and in every multi-block that holds this one."""
        self._cache = None
        self.structure_version += 1
        for parent_ref in list(self._parents):
            parent = parent_ref()
            if parent is not None:
                parent._structure_changed()

    @property
    def sub_blocks(self) -> SubBlocks:
        return self._sub_blocks

    @sub_blocks.setter
    def sub_blocks(self, value: Any) -> None:
        self._set_sub_blocks(pairs(value))

    def _check_structure(self) -> None:
        """Subclasses validate their structure here (construction and after surgery)."""

    def _aggregate(self, items: list[tuple[str, ModularPipelineBlocks]]) -> Declarations:
        raise NotImplementedError

    def _state(self) -> tuple[Declarations, tuple[tuple[str, ModularPipelineBlocks], ...], Any]:
        cache = self._cache
        if cache is None:
            self._check_structure()
            items = tuple(self._sub_blocks.items())
            for _, block in items:
                if isinstance(block, _MultiBlocks):
                    block._add_parent(self)
            decl = self._aggregate(list(items))
            cache = self._cache = (self.structure_version, decl, items, None)
        return cache[1], cache[2], cache[3]

    def _add_parent(self, parent: _MultiBlocks) -> None:
        # weak references: a block reused in many trees must not keep those trees alive
        if not any(ref() is parent for ref in self._parents):
            self._parents = (*[r for r in self._parents if r() is not None], weakref.ref(parent))

    def _decl(self) -> Declarations:
        return self._state()[0]

    @property
    def inputs(self) -> list[InputParam]:
        return self._decl().inputs

    @property
    def intermediate_inputs(self) -> list[InputParam]:
        return self._decl().intermediate_inputs

    @property
    def intermediate_outputs(self) -> list[OutputParam]:
        return self._decl().intermediate_outputs

    @property
    def expected_components(self) -> list[ComponentSpec]:
        return self._decl().expected_components

    @property
    def expected_configs(self) -> list[ConfigSpec]:
        return self._decl().expected_configs

    @property
    def trigger_inputs(self) -> list[str]:
        return self._decl().trigger_inputs

    def _always_outputs(self) -> frozenset[str]:
        return self._decl().always_outputs

    def walk(self, prefix: str = "") -> Iterable[tuple[str, ModularPipelineBlocks]]:
        """Every nested block with its dotted path, depth first (self not included)."""
        for path, block in plan(self).nodes[1:]:
            yield (f"{prefix}.{path}" if prefix else path), block

    #: Named workflows: name -> the trigger inputs that select it (``{"image2image": {"image":
    #: True}}``), or a tuple of such dicts for alternative spellings (the first one is used).
    _workflow_map: dict[str, Any] | None = None

    @property
    def available_workflows(self) -> list[str]:
        """The names of the workflows in ``_workflow_map``."""
        return list(self._workflows())

    def get_workflow(self, workflow_name: str) -> ModularPipelineBlocks | None:
        """The blocks that run for one named workflow: ``get_execution_blocks`` with its triggers."""
        workflows = self._workflows()
        if workflow_name not in workflows:
            hint = suggest(workflow_name, workflows)
            raise ValueError(
                f"{type(self).__name__} has no workflow {workflow_name!r}.{hint} "
                f"Workflows: {', '.join(workflows)}"
            )
        triggers = workflows[workflow_name]
        if isinstance(triggers, tuple):
            triggers = triggers[0]
        return self.get_execution_blocks(**triggers)

    def _workflows(self) -> dict[str, Any]:
        if self._workflow_map is None:
            raise NotImplementedError(
                f"{type(self).__name__} names no workflows: set _workflow_map = "
                f"{{'name': {{'trigger_input': True}}, ...}} on the class to name them"
            )
        return self._workflow_map

    def _sub_block_rows(self) -> list[tuple[str, ModularPipelineBlocks, str]]:
        return [(name, block, self._tag(i, name)) for i, (name, block) in enumerate(self._state()[1])]

    def _tag(self, index: int, name: str) -> str:
        """What repr prints after a sub-block's class (a branch's trigger, the default)."""
        return ""


class SequentialPipelineBlocks(_MultiBlocks):
    """Runs its sub-blocks in order; each sees what the earlier ones produced."""

    def _aggregate(self, items: list[tuple[str, ModularPipelineBlocks]]) -> Declarations:
        return aggregate_sequential(items)

    def _calls(self) -> tuple[Any, ...]:
        """The sub-blocks' bound ``__call__`` methods, in order (cached with the declarations)."""
        decl, items, calls = self._state()
        if calls is None:
            calls = tuple(block.__call__ for _, block in items)
            assert self._cache is not None
            self._cache = (self._cache[0], decl, items, calls)
        return calls  # type: ignore[no-any-return]

    def _child_failed(self, exc: BaseException, index: int, state: PipelineState) -> None:
        name, block = self._state()[1][index]
        chosen = getattr(block, "_returns_chosen_result", False)
        err = annotate(bad_return(exc, block, "(components, state)", chosen) or exc, name, block, state)
        if err is exc:
            raise exc
        raise err from exc

    def __call__(self, components: Any, state: PipelineState) -> tuple[Any, PipelineState]:
        cache = self._cache
        calls = cache[3] if cache is not None else None
        if calls is None:
            calls = self._calls()
        call = None
        try:
            for call in calls:
                components, state = call(components, state)
        except Exception as exc:
            self._child_failed(exc, failed_position(calls, call), state)
        return components, state

    def _plan(self, walk: Walk, at: At) -> None:
        walk.in_order(self._state()[1], at)


__all__ = ["SequentialPipelineBlocks", "SubBlocks"]
