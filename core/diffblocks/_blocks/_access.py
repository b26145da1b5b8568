"""Per-block state access: plain functions over name tuples precomputed from the declarations.

``get_block_state``/``set_block_state`` run for every block of every call. Their cost is kept low
without generated code: a block's declarations are read once into tuples of names and defaults,
and the accessors loop over those tuples. They use ``setattr``/``getattr`` rather than the block
state's ``__dict__``: asking an object for its ``__dict__`` turns off CPython's inline attribute
values for it, which made every later attribute access in the block slower.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .._model._checks import fresh
from .._model._errors import MissingInputError, MissingOutputError
from .._model._params import InputParam, OutputParam
from .._model._state import BlockState, _BlockStateFast, _tag

_MISSING = object()
# Builtin mutable containers are copied out of ``state.inputs`` (at every level, by ``fresh``) so a
# block cannot change what the caller passed; tensors, arrays and images are passed by reference.
_COPY_TYPES = frozenset({list, dict, set, bytearray})

Getter = Callable[[Any], BlockState]
Setter = Callable[[Any, BlockState], None]


def build_accessors(
    block_class: str,
    inputs: Sequence[InputParam],
    intermediate_inputs: Sequence[InputParam],
    outputs: Sequence[OutputParam],
) -> tuple[Getter, Setter]:
    """The ``(get_block_state, set_block_state)`` pair for one block's declarations."""
    reads: list[tuple[str, Any, bool]] = []  # (name, default, required), first declaration wins
    collectors: list[str] = []  # kwargs_type of nameless inputs, collected into one dict each
    seen: set[str] = set()
    for param in [*inputs, *intermediate_inputs]:
        if param.name is None:
            if param.kwargs_type and param.kwargs_type not in collectors:
                collectors.append(param.kwargs_type)
        elif param.name not in seen:
            seen.add(param.name)
            reads.append((param.name, param.default, bool(param.required)))

    written: set[str] = set()
    out_names: list[str] = []
    tagged: list[tuple[str, str]] = []  # (kwargs_type, name) of outputs that carry a tag
    for out in outputs:
        if out.name not in written:
            written.add(out.name)
            out_names.append(out.name)
            if out.kwargs_type:
                tagged.append((out.kwargs_type, out.name))
    # Intermediate inputs are written back when the block rebound them (identity, not equality).
    rebinds = [p.name for p in intermediate_inputs if p.name is not None and p.name not in written]
    written.update(rebinds)
    # An `inputs` name produced upstream lives in the intermediates (the later diffusers style) and
    # is written back the same way; a caller's input is never written.
    upstream = [p.name for p in inputs if p.name is not None and p.name not in written]

    return (
        _getter(block_class, tuple(reads), tuple(collectors)),
        _setter(block_class, tuple(out_names), tuple(tagged), tuple(rebinds), tuple(dict.fromkeys(upstream))),
    )


def _getter(
    block_class: str, reads: tuple[tuple[str, Any, bool], ...], collectors: tuple[str, ...]
) -> Getter:
    copy_types = _COPY_TYPES
    new_state = _BlockStateFast

    def read(state: Any, name: str, default: Any, required: bool) -> Any:
        inter = state.intermediates
        if name in inter:
            value = inter[name]
        else:
            value = state._inputs.get(name, default)
            if value.__class__ in copy_types:
                value = fresh(value)
        if value is None and required:
            raise MissingInputError([("", block_class, name)])
        return value

    if len(reads) == 1 and not collectors:
        # The most common shape (one value in): no loop to set up on every call.
        ((only, only_default, only_required),) = reads

        def get_one(state: Any) -> BlockState:
            inter = state.intermediates
            if only in inter:
                value = inter[only]
            else:
                value = state._inputs.get(only, only_default)
                if value.__class__ in copy_types:
                    value = fresh(value)
            if value is None and only_required:
                raise MissingInputError([("", block_class, only)])
            bs: BlockState = new_state()
            setattr(bs, only, value)
            return bs

        return get_one

    def get_block_state(state: Any) -> BlockState:
        bs: BlockState = new_state()
        for name, default, required in reads:
            setattr(bs, name, read(state, name, default, required))
        if collectors:
            for kwargs_type in collectors:
                _collect_kwargs(state, bs, kwargs_type)
        return bs

    return get_block_state


def _setter(
    block_class: str,
    out_names: tuple[str, ...],
    tagged: tuple[tuple[str, str], ...],
    rebinds: tuple[str, ...],
    upstream: tuple[str, ...],
) -> Setter:
    missing = _MISSING

    if len(out_names) == 1 and not (tagged or rebinds or upstream):
        # The most common shape (one value out, nothing else written back).
        (only,) = out_names

        def set_one(state: Any, bs: BlockState) -> None:
            # plain getattr without a default, in a try: cheaper than a default or attrgetter
            try:
                state.intermediates[only] = getattr(bs, only)
            except AttributeError:
                raise MissingOutputError(block_class, only) from None

        return set_one

    def set_block_state(state: Any, bs: BlockState) -> None:
        inter = state.intermediates
        for name in out_names:
            value = getattr(bs, name, missing)
            if value is missing:
                raise MissingOutputError(block_class, name)
            inter[name] = value
        # empty loops still cost their set-up on CPython, so each is entered only when needed
        if tagged:
            for kwargs_type, name in tagged:
                _tag(state.intermediate_kwargs, kwargs_type, name)
        if rebinds:
            for name in rebinds:
                value = getattr(bs, name, missing)
                if value is not missing and value is not inter.get(name):
                    inter[name] = value
        if upstream:
            for name in upstream:
                if name in inter:
                    value = getattr(bs, name, missing)
                    if value is not missing and value is not inter[name]:
                        inter[name] = value

    return set_block_state


def _collect_kwargs(state: Any, bs: BlockState, kwargs_type: str) -> None:
    collected = {**state.get_inputs_kwargs(kwargs_type), **state.get_intermediates_kwargs(kwargs_type)}
    for key, value in collected.items():
        if not hasattr(bs, key):
            setattr(bs, key, value)
    setattr(bs, kwargs_type, collected)
