"""Multi-blocks: Sequential, Auto (conditional) and LoopSequential."""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from .._model._dict import InsertableDict, pairs
from .._model._errors import BlockDefinitionError, BlockExecutionError, DiffblocksError
from .._model._params import ComponentSpec, ConfigSpec, InputParam, OutputParam
from .._model._state import BlockState, PipelineState
from ._access import build_accessors
from ._aggregate import Declarations, aggregate_auto, aggregate_sequential
from ._base import ModularPipelineBlocks


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


def annotate(exc: BaseException, name: str | None, block: Any, state: Any) -> DiffblocksError:
    """Add a sub-block's name (None at the top) to an error travelling up, wrapping foreign
    exceptions once. It also writes back what a failing loop had finished, so the caller keeps it
    on ``.state``.
    """
    err = exc if isinstance(exc, DiffblocksError) else BlockExecutionError(type(block).__name__, exc)
    if name is not None:
        err._prepend(name)
    if isinstance(state, PipelineState):
        if err._pending_salvage is not None:
            loop, block_state = err._pending_salvage
            loop._salvage(state, block_state)
            err._pending_salvage = None
        if err.state is None:
            err.state = state
    return err


def keep_interrupted(exc: KeyboardInterrupt, state: PipelineState) -> None:
    """Ctrl-C during a run: write back what an interrupted loop had finished, as :func:`annotate`
    does for errors, and put the partial state on ``exc.state``. The interrupt is not wrapped."""
    pending = getattr(exc, "_pending_salvage", None)
    if pending is not None:
        loop, block_state = pending
        loop._salvage(state, block_state)
        exc._pending_salvage = None  # type: ignore[attr-defined]
    exc.state = state  # type: ignore[attr-defined]


class _MultiBlocks(ModularPipelineBlocks):
    block_classes: list[Any] = []
    block_names: list[str] = []
    #: Bumped whenever the sub-blocks here or anywhere below change; caches compare it.
    structure_version: int = 0
    _cache: tuple[int, Any, Any, Any] | None = None
    _parents: tuple[weakref.ref[_MultiBlocks], ...] = ()

    def __init__(self) -> None:
        classes, names = list(type(self).block_classes), list(type(self).block_names)
        if len(classes) != len(names):
            raise BlockDefinitionError(
                f"{type(self).__name__}: block_classes has {len(classes)} entries but block_names "
                f"has {len(names)}; give one name per block"
            )
        self._set_sub_blocks(zip(names, classes))

    @classmethod
    def from_blocks_dict(cls, blocks_dict: Any) -> Any:
        """Build from a mapping (or pairs) of name -> block class or instance."""
        inst = cls.__new__(cls)
        inst._set_sub_blocks(pairs(blocks_dict))
        return inst

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
        for name, block in self._state()[1]:
            path = f"{prefix}.{name}" if prefix else name
            yield path, block
            if isinstance(block, _MultiBlocks):
                yield from block.walk(path)


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
        err = annotate(exc, name, block, state)
        if err is exc:
            raise exc
        raise err from exc

    def __call__(self, components: Any, state: PipelineState) -> tuple[Any, PipelineState]:
        cache = self._cache
        calls = cache[3] if cache is not None else None
        if calls is None:
            calls = self._calls()
        index = 0
        try:
            for index, call in enumerate(calls):  # noqa: B007 (read in the except branch)
                components, state = call(components, state)
        except Exception as exc:
            self._child_failed(exc, index, state)
        return components, state

    def _simulate(self, present: set[str], path: str, report: Any) -> None:
        for name, block in self._state()[1]:
            block._simulate(present, f"{path}.{name}" if path else name, report)

    def _execution_items(self, present: set[str], path: str) -> list[tuple[str, ModularPipelineBlocks]]:
        out: list[tuple[str, ModularPipelineBlocks]] = []
        for name, block in self._state()[1]:
            out += block._execution_items(present, f"{path}.{name}" if path else name)
        return out


class AutoPipelineBlocks(_MultiBlocks):
    """Runs the first sub-block whose trigger input has a value (not None).

    ``block_trigger_inputs`` has one entry per sub-block; ``None`` marks the default block and
    may only be last. Without a default and with no trigger present, nothing runs.
    """

    block_trigger_inputs: list[str | None] = []

    def _check_structure(self) -> None:
        triggers = list(self.block_trigger_inputs)
        cls = type(self).__name__
        n = len(self._sub_blocks)
        if len(triggers) != n:
            raise BlockDefinitionError(
                f"{cls}: block_trigger_inputs has {len(triggers)} entries for {n} sub-blocks "
                f"({', '.join(self._sub_blocks) or 'none'}); give one trigger input name per "
                f"sub-block, None for the default (last)"
            )
        for i, t in enumerate(triggers):
            if t is None and i != n - 1:
                raise BlockDefinitionError(
                    f"{cls}: block_trigger_inputs[{i}] is None but only the last entry may be None "
                    f"(the default block); move the default block to the end"
                )
            if t is not None and not isinstance(t, str):
                raise BlockDefinitionError(
                    f"{cls}: block_trigger_inputs[{i}] is {t!r}; each trigger must be an input "
                    f"name (str) or None"
                )
        dupes = sorted({t for t in triggers if t is not None and triggers.count(t) > 1})
        if dupes:
            raise BlockDefinitionError(
                f"{cls}: trigger input(s) {dupes} are listed twice; the second block could never "
                f"run. Give each sub-block its own trigger"
            )

    def _aggregate(self, items: list[tuple[str, ModularPipelineBlocks]]) -> Declarations:
        return aggregate_auto(items, list(self.block_trigger_inputs))

    def select(self, state: PipelineState) -> tuple[str, ModularPipelineBlocks] | None:
        """The (name, block) that runs for this state, or None."""
        inter, inputs = state.intermediates, state._inputs
        for trigger, item in zip(self.block_trigger_inputs, self._state()[1]):
            if trigger is None:
                return item
            if inter.get(trigger) is not None or inputs.get(trigger) is not None:
                return item
        return None

    def _select_by_names(self, present: set[str]) -> tuple[str, ModularPipelineBlocks] | None:
        for trigger, item in zip(self.block_trigger_inputs, self._state()[1]):
            if trigger is None or trigger in present:
                return item
        return None

    def __call__(self, components: Any, state: PipelineState) -> tuple[Any, PipelineState]:
        chosen = self.select(state)
        if chosen is None:
            return components, state
        name, block = chosen
        try:
            return block(components, state)
        except Exception as exc:
            err = annotate(exc, name, block, state)
            if err is exc:
                raise
            raise err from exc

    def _simulate(self, present: set[str], path: str, report: Any) -> None:
        chosen = self._select_by_names(present)
        if chosen is not None:
            chosen[1]._simulate(present, f"{path}.{chosen[0]}" if path else chosen[0], report)

    def _execution_items(self, present: set[str], path: str) -> list[tuple[str, ModularPipelineBlocks]]:
        chosen = self._select_by_names(present)
        if chosen is None:
            return []
        return chosen[1]._execution_items(present, f"{path}.{chosen[0]}" if path else chosen[0])


class LoopSequentialPipelineBlocks(_MultiBlocks):
    """A loop over sub-blocks that share one block state.

    Declare ``loop_inputs``, ``loop_intermediate_inputs``, ``loop_intermediate_outputs`` (and
    ``loop_expected_components``/``loop_expected_configs``) and implement ``__call__``: get one
    block state, call ``self.loop_step(components, block_state, **kw)`` per iteration, set the
    state once. Sub-blocks are called as ``block(components, block_state, **kw)``.
    """

    @property
    def loop_inputs(self) -> list[InputParam]:
        return []

    @property
    def loop_intermediate_inputs(self) -> list[InputParam]:
        return []

    @property
    def loop_intermediate_outputs(self) -> list[OutputParam]:
        return []

    @property
    def loop_expected_components(self) -> list[ComponentSpec]:
        return []

    @property
    def loop_expected_configs(self) -> list[ConfigSpec]:
        return []

    def _aggregate(self, items: list[tuple[str, ModularPipelineBlocks]]) -> Declarations:
        return aggregate_sequential(items, head=self)

    def _accessors(self) -> tuple[Any, Any]:
        decl, items, acc = self._state()
        if acc is None:
            get, put = build_accessors(
                type(self).__name__, decl.inputs, decl.intermediate_inputs, decl.intermediate_outputs
            )
            # the sub-blocks' names and bound __call__ methods ride along for loop_step
            acc = (get, put, tuple(name for name, _ in items), tuple(block.__call__ for _, block in items))
            assert self._cache is not None
            self._cache = (self._cache[0], decl, items, acc)
        return acc[0], acc[1]

    def loop_step(self, components: Any, block_state: BlockState, **kwargs: Any) -> tuple[Any, BlockState]:
        """Run every sub-block once on the shared block state, passing ``kwargs`` to each."""
        cache = self._cache
        if cache is None or cache[3] is None:
            self._accessors()
            cache = self._cache
            assert cache is not None
        index = 0
        try:
            for index, call in enumerate(cache[3][3]):  # noqa: B007 (read in the except branch)
                components, block_state = call(components, block_state, **kwargs)
        except Exception as exc:
            self._step_failed(exc, index, block_state)
        except KeyboardInterrupt as exc:  # not wrapped (Ctrl-C stays Ctrl-C); see keep_interrupted
            if getattr(exc, "_pending_salvage", None) is None:
                exc._pending_salvage = (self, block_state)  # type: ignore[attr-defined]
            raise
        return components, block_state

    def _step_failed(self, exc: BaseException, index: int, block_state: BlockState) -> None:
        assert self._cache is not None
        name = self._cache[3][2][index]
        err = annotate(exc, name, self._sub_blocks.get(name), None)
        if err._pending_salvage is None:
            err._pending_salvage = (self, block_state)
        if err is exc:
            raise exc
        raise err from exc

    def __call__(self, components: Any, state: PipelineState) -> tuple[Any, PipelineState]:
        raise NotImplementedError(
            f"{type(self).__name__} must implement __call__: get the block state, call "
            f"self.loop_step(components, block_state, ...) for each iteration, then "
            f"self.set_block_state(state, block_state)"
        )

    def _salvage(self, state: PipelineState, block_state: BlockState) -> None:
        """Keep what a failed loop had finished: every declared output that was set."""
        values = block_state.__dict__
        for out in self.intermediate_outputs:
            if out.name in values:
                state.intermediates[out.name] = values[out.name]

    def _simulate(self, present: set[str], path: str, report: Any) -> None:
        report.visit(self, path)
        present.update(self.output_names)

    def _execution_items(self, present: set[str], path: str) -> list[tuple[str, ModularPipelineBlocks]]:
        present.update(self.output_names)
        return [(path, self)]


__all__ = [
    "AutoPipelineBlocks",
    "LoopSequentialPipelineBlocks",
    "SequentialPipelineBlocks",
    "SubBlocks",
]
