"""Per-block state access: plain functions over name tuples precomputed from the declarations.

``get_block_state``/``set_block_state`` run for every block of every call. Their cost is kept low
without generated code: a block's declarations are read once into tuples of names and defaults,
and the accessors loop over those tuples, writing straight into the block state's ``__dict__``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .._model._errors import MissingInputError, MissingOutputError
from .._model._params import InputParam, OutputParam
from .._model._state import BlockState, _BlockStateFast, _tag

_MISSING = object()
# Builtin mutable containers are shallow-copied out of ``state.inputs`` so a block cannot change
# what the caller passed; tensors, arrays and images are passed by reference (no deep copies).
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

    def get_block_state(state: Any) -> BlockState:
        inter = state.intermediates
        given = state._inputs
        bs: BlockState = new_state()
        values = bs.__dict__
        for name, default, required in reads:
            if name in inter:
                value = inter[name]
            else:
                value = given.get(name, default)
                if value.__class__ in copy_types:
                    value = value.copy()
            if value is None and required:
                raise MissingInputError([("", block_class, name)])
            values[name] = value
        for kwargs_type in collectors:
            _collect_kwargs(state, values, kwargs_type)
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

    def set_block_state(state: Any, bs: BlockState) -> None:
        inter = state.intermediates
        values = bs.__dict__
        for name in out_names:
            value = values.get(name, missing)
            if value is missing:
                value = _read_attribute(bs, block_class, name)
            inter[name] = value
        for kwargs_type, name in tagged:
            _tag(state.intermediate_kwargs, kwargs_type, name)
        for name in rebinds:
            value = values.get(name, missing)
            if value is not missing and value is not inter.get(name):
                inter[name] = value
        for name in upstream:
            if name in inter:
                value = values.get(name, missing)
                if value is not missing and value is not inter[name]:
                    inter[name] = value

    return set_block_state


def _read_attribute(bs: BlockState, block_class: str, name: str) -> Any:
    """An output that is not in the block state's dict: a property or ``__getattr__`` of the
    block's own making may still provide it; otherwise the block forgot to set it."""
    try:
        return getattr(bs, name)
    except AttributeError:
        raise MissingOutputError(block_class, name) from None


def _collect_kwargs(state: Any, values: dict[str, Any], kwargs_type: str) -> None:
    collected = {**state.get_inputs_kwargs(kwargs_type), **state.get_intermediates_kwargs(kwargs_type)}
    for key, value in collected.items():
        values.setdefault(key, value)
    values[kwargs_type] = collected
