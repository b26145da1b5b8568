"""Multi-blocks: Sequential, Conditional and Auto (one branch of several), LoopSequential."""

from __future__ import annotations

import dis
import inspect
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from .._model._dict import InsertableDict, pairs
from .._model._errors import (
    BadReturnError,
    BlockDefinitionError,
    BlockExecutionError,
    DiffblocksError,
    suggest,
)
from .._model._params import ComponentSpec, ConfigSpec, InputParam, OutputParam
from .._model._state import BlockState, PipelineState
from ._access import build_accessors
from ._aggregate import Declarations, aggregate_conditional, aggregate_sequential
from ._base import ModularPipelineBlocks
from ._plan import At, Walk, plan

_M = TypeVar("_M", bound="_MultiBlocks")


#: loop_step's marker for a keyword value that was not passed
_UNSET: Any = object()


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


_UNPACK_SEQUENCE = dis.opmap["UNPACK_SEQUENCE"]


def bad_return(exc: BaseException, block: Any, expected: str) -> BadReturnError | None:
    """For a runner's failure path: the error to raise when ``exc`` is the runner's own unpacking
    of a sub-block's result (the block returned None or not a pair), else None.

    The runner's frame raised it (no deeper traceback entry) at an UNPACK_SEQUENCE instruction, so
    a TypeError or ValueError raised inside the block, or by calling it with the wrong arguments,
    is never mistaken for one. Found after the fact, so the success path checks nothing."""
    tb = exc.__traceback__
    if not isinstance(exc, (TypeError, ValueError)) or tb is None or tb.tb_next is not None:
        return None
    if tb.tb_frame.f_code.co_code[tb.tb_lasti] != _UNPACK_SEQUENCE:
        return None
    text = str(exc)
    if isinstance(exc, TypeError):
        # "cannot unpack non-iterable NoneType object": the message names the returned type
        kind = text.removeprefix("cannot unpack non-iterable ").removesuffix(" object")
        returned = "None" if kind == "NoneType" else f"a value of type {kind}, not a pair"
    else:
        returned = f"a sequence that is not a pair ({text})"
    if isinstance(block, ConditionalPipelineBlocks):
        returned += " (what its chosen sub-block's __call__ returned)"
    return BadReturnError(type(block).__name__, exc, returned, expected)


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
        err = annotate(bad_return(exc, block, "(components, state)") or exc, name, block, state)
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
            self._child_failed(exc, _position(calls, call), state)
        return components, state

    def _plan(self, walk: Walk, at: At) -> None:
        walk.in_order(self._state()[1], at)


class ConditionalPipelineBlocks(_MultiBlocks):
    """Runs at most one of its sub-blocks: the one ``select_block`` names.

    ``block_trigger_inputs`` lists the names whose values ``select_block(**kwargs)`` receives
    (None where the state has no value). It returns a sub-block name, or None for
    ``default_block_name``; with no default either, nothing runs and the state is untouched.
    Choose by whether a value is present rather than by the value itself where you can:
    ``get_execution_blocks`` and the pipeline's checks before a run know only that a value a
    block will produce is present, not what it is.

    The branch that runs applies its own defaults: where branches declare different defaults for
    an input the caller did not give, the chosen branch's default is used and put in the state.
    """

    block_trigger_inputs: list[str | None] = []
    default_block_name: str | None = None

    def select_block(self, **kwargs: Any) -> str | None:
        """The name of the sub-block to run for these trigger values, or None (the default)."""
        raise NotImplementedError(f"{type(self).__name__} must implement select_block(**kwargs)")

    def _check_structure(self) -> None:
        cls = type(self).__name__
        if type(self).select_block is ConditionalPipelineBlocks.select_block:
            raise BlockDefinitionError(
                f"{cls}: a ConditionalPipelineBlocks must override select_block(self, **kwargs) and "
                f"return the name of the sub-block to run, or None for the default; for one trigger "
                f"input per sub-block, subclass AutoPipelineBlocks instead"
            )
        for i, t in enumerate(self.block_trigger_inputs):
            if t is not None and not isinstance(t, str):
                raise BlockDefinitionError(
                    f"{cls}: block_trigger_inputs[{i}] is {t!r}; each trigger must be an input "
                    f"name (str) or None"
                )
        default = self.default_block_name
        if default is not None and default not in self._sub_blocks:
            hint = suggest(default, self._sub_blocks)
            raise BlockDefinitionError(
                f"{cls}: default_block_name {default!r} is not one of its sub-blocks "
                f"({', '.join(self._sub_blocks) or 'none'}).{hint}"
            )

    def _aggregate(self, items: list[tuple[str, ModularPipelineBlocks]]) -> Declarations:
        return aggregate_conditional(
            items, list(self.block_trigger_inputs), has_default=self.default_block_name is not None
        )

    def _selects_by_presence(self) -> bool:
        """Whether the choice depends only on which trigger values are present (not None)."""
        return False

    def _choose(self, lookup: Callable[[str], Any]) -> tuple[str, ModularPipelineBlocks] | None:
        """The (name, block) that runs when ``lookup(name)`` gives each trigger's value, or None."""
        self._state()  # re-checks the structure after surgery
        kwargs = {t: lookup(t) for t in self.block_trigger_inputs if t is not None}
        try:
            name = self.select_block(**kwargs)
        except Exception as exc:
            raise BlockExecutionError(f"{type(self).__name__}.select_block", exc) from exc
        if name is None:
            name = self.default_block_name
            if name is None:
                return None
        block = self._sub_blocks.get(name)
        if block is None:
            hint = suggest(str(name), self._sub_blocks)
            raise BlockDefinitionError(
                f"{type(self).__name__}.select_block returned {name!r}, which is not one of its "
                f"sub-blocks ({', '.join(self._sub_blocks)}).{hint} Return a sub-block name or None"
            )
        return name, block

    def __call__(self, components: Any, state: PipelineState) -> tuple[Any, PipelineState]:
        inter, inputs = state.intermediates, state._inputs

        def lookup(key: str) -> Any:
            value = inter.get(key)
            return value if value is not None else inputs.get(key)

        chosen = self._choose(lookup)
        if chosen is None:
            return components, state
        name, block = chosen
        for key, default, is_inter, kwargs_type in self._decl().branch_defaults.get(name, ()):
            if lookup(key) is None:
                (state.set_intermediate if is_inter else state.set_input)(key, default, kwargs_type)
        try:
            return block(components, state)
        except Exception as exc:
            err = annotate(exc, name, block, state)
            if err is exc:
                raise
            raise err from exc

    def _plan(self, walk: Walk, at: At) -> None:
        walk.one_of(self, self._state()[1], at)

    def _tag(self, index: int, name: str) -> str:
        return " [default]" if name == self.default_block_name else ""

    def _trigger_branches(self) -> list[tuple[str, str | None]]:
        """(trigger input, the sub-block it selects, or None where select_block decides)."""
        return [(t, None) for t in self.block_trigger_inputs if t is not None]

    def get_execution_blocks(self, *names: str, **values: Any) -> ModularPipelineBlocks | None:
        """The block chosen for these inputs (a leaf or loop as it is; a sequence resolved to
        the blocks that would run in it), or None when nothing would run."""
        runs = plan(self, {**dict.fromkeys(names, True), **values})
        if not runs.steps:
            return None
        if len(runs.steps) == 1 and not runs.steps[0].key:
            return runs.steps[0].block
        return SequentialPipelineBlocks.from_blocks_dict(runs.keyed_blocks())


class AutoPipelineBlocks(ConditionalPipelineBlocks):
    """Runs the first sub-block whose trigger input has a value (not None).

    ``block_trigger_inputs`` has one entry per sub-block; ``None`` marks the default block and
    may only be last. Without a default and with no trigger present, nothing runs.
    """

    def _check_structure(self) -> None:
        triggers = list(self.block_trigger_inputs)
        cls = type(self).__name__
        names = list(self._sub_blocks)
        n = len(names)
        if type(self).default_block_name is not None:
            raise BlockDefinitionError(
                f"{cls}: an AutoPipelineBlocks takes its default from block_trigger_inputs: put None "
                f"as the last trigger (for the default block, listed last) instead of setting "
                f"default_block_name"
            )
        # an instance attribute, as in diffusers: the name of the block whose trigger is None
        self.default_block_name = names[-1] if names and triggers and triggers[-1] is None else None
        super()._check_structure()  # trigger types
        if len(triggers) != n:
            raise BlockDefinitionError(
                f"{cls}: block_trigger_inputs has {len(triggers)} entries for {n} sub-blocks "
                f"({', '.join(names) or 'none'}); give one trigger input name per "
                f"sub-block, None for the default (last)"
            )
        for i, t in enumerate(triggers):
            if t is None and i != n - 1:
                raise BlockDefinitionError(
                    f"{cls}: block_trigger_inputs[{i}] is None but only the last entry may be None "
                    f"(the default block); move the default block to the end"
                )
        dupes = sorted({t for t in triggers if t is not None and triggers.count(t) > 1})
        if dupes:
            raise BlockDefinitionError(
                f"{cls}: trigger input(s) {dupes} are listed twice; the second block could never "
                f"run. Give each sub-block its own trigger"
            )

    def select_block(self, **kwargs: Any) -> str | None:
        """The name of the first sub-block whose trigger value is not None; None if there is none."""
        for trigger, name in zip(self.block_trigger_inputs, self._sub_blocks):
            if trigger is not None and kwargs.get(trigger) is not None:
                return name
        return None

    def _selects_by_presence(self) -> bool:
        return type(self).select_block is AutoPipelineBlocks.select_block

    def _tag(self, index: int, name: str) -> str:
        triggers = self.block_trigger_inputs
        if index >= len(triggers):
            return ""
        return " [default]" if triggers[index] is None else f" [trigger: {triggers[index]}]"

    def _trigger_branches(self) -> list[tuple[str, str | None]]:
        return [(t, name) for t, name in zip(self.block_trigger_inputs, self._sub_blocks) if t is not None]


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
            names = tuple(name for name, _ in items)
            calls = tuple(block.__call__ for _, block in items)
            # whether every sub-block takes (i) / (i, t) by position, for loop_step's fast calls
            takes_i = _takes_positionally(calls, ("i",))
            takes_it = _takes_positionally(calls, ("i", "t"))
            acc = (get, put, names, calls, takes_i, takes_it)
            assert self._cache is not None
            self._cache = (self._cache[0], decl, items, acc)
        return acc[0], acc[1]

    def loop_step(
        self, components: Any, block_state: BlockState, i: Any = _UNSET, t: Any = _UNSET, **kwargs: Any
    ) -> tuple[Any, BlockState]:
        """Run every sub-block once on the shared block state, passing the keyword values (the
        loop index ``i``, the timestep ``t``, and any others) to each."""
        cache = self._cache
        if cache is None or cache[3] is None:
            self._accessors()
            cache = self._cache
            assert cache is not None
        acc = cache[3]
        calls = acc[3]
        call = None
        try:
            # ``i`` and ``t`` are what diffusion loops pass on every step: they arrive as named
            # parameters and go on by position when every sub-block takes them so, skipping a
            # keyword dict per sub-block per iteration. Anything else goes on by keyword.
            if t is _UNSET and acc[4] and not kwargs and i is not _UNSET:
                for call in calls:
                    components, block_state = call(components, block_state, i)
            elif acc[5] and not kwargs and i is not _UNSET and t is not _UNSET:
                for call in calls:
                    components, block_state = call(components, block_state, i, t)
            else:
                if i is not _UNSET:
                    kwargs["i"] = i
                if t is not _UNSET:
                    kwargs["t"] = t
                for call in calls:
                    components, block_state = call(components, block_state, **kwargs)
        except Exception as exc:
            self._step_failed(exc, _position(calls, call), block_state)
        except KeyboardInterrupt as exc:  # not wrapped (Ctrl-C stays Ctrl-C); see keep_interrupted
            if getattr(exc, "_pending_salvage", None) is None:
                exc._pending_salvage = (self, block_state)  # type: ignore[attr-defined]
            raise
        return components, block_state

    def _step_failed(self, exc: BaseException, index: int, block_state: BlockState) -> None:
        assert self._cache is not None
        name = self._cache[3][2][index]
        block = self._sub_blocks.get(name)
        err = annotate(bad_return(exc, block, "(components, block_state)") or exc, name, block, None)
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

    def _plan(self, walk: Walk, at: At) -> None:
        walk.whole(self, at)  # loops stay whole
        walk.inside(self._state()[1], at)


def _position(calls: tuple[Any, ...], failed: Any) -> int:
    """Which of ``calls`` raised: found after the fact, so the hot loops count nothing."""
    for index, call in enumerate(calls):
        if call is failed:
            return index
    return 0


def _takes_positionally(calls: tuple[Any, ...], names: tuple[str, ...]) -> bool:
    """True when every call's parameters after (components, block_state) start with ``names``,
    in order and passable by position, and the rest have defaults: positional calls are then
    exactly the keyword calls."""
    if not 1 <= len(names) <= 2:
        return False
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    for call in calls:
        try:
            params = list(inspect.signature(call).parameters.values())
        except (TypeError, ValueError):
            return False
        head, rest = params[: 2 + len(names)], params[2 + len(names) :]
        if len(head) < 2 + len(names) or any(p.kind not in kinds for p in head):
            return False
        if tuple(p.name for p in head[2:]) != names:
            return False
        if any(p.default is p.empty and p.kind in (*kinds, p.KEYWORD_ONLY) for p in rest):
            return False
    return True


__all__ = [
    "AutoPipelineBlocks",
    "ConditionalPipelineBlocks",
    "LoopSequentialPipelineBlocks",
    "SequentialPipelineBlocks",
    "SubBlocks",
]
