"""Per-block state accessors, generated once from a block's declarations.

``get_block_state``/``set_block_state`` run for every block of every call, so they are compiled
into straight-line functions (the technique dataclasses and attrs use) instead of looping over
param objects at run time. Names are passed as constants, never spliced into source as code.
"""

from __future__ import annotations

import keyword
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
    consts: dict[str, Any] = {
        "_BS": _BlockStateFast,
        "_MISS": _MISSING,
        "_COPY": _COPY_TYPES,
        "_tag": _tag,
        "_collect": _collect_kwargs,
        "_missing_input": _missing_input(block_class),
        "_missing_output_of": _missing_output(block_class),
        "_setattr": setattr,
        "_getattr": getattr,
    }

    def const(value: Any) -> str:
        key = f"_c{len(consts)}"
        consts[key] = value
        return key

    def attr(name: str) -> str:
        # identifiers become plain attribute access (fast inline values); others go via setattr
        return f"bs.{name}" if name.isidentifier() and not keyword.iskeyword(name) else ""

    get = [
        "def get_block_state(state):",
        " inter = state.intermediates",
        " bs = _BS()",
    ]
    seen: set[str] = set()
    collectors: list[str] = []
    for param in [*inputs, *intermediate_inputs]:
        if param.name is None:
            if param.kwargs_type and param.kwargs_type not in collectors:
                collectors.append(param.kwargs_type)
            continue
        if param.name in seen:
            continue
        seen.add(param.name)
        n, dflt = const(param.name), const(param.default)
        get += [
            f" if {n} in inter: v = inter[{n}]",
            " else:",
            f"  v = state._inputs.get({n}, {dflt})",
            "  if v.__class__ in _COPY: v = v.copy()",
        ]
        if param.required:
            get.append(f" if v is None: _missing_input({n})")
        target = attr(param.name)
        get.append(f" {target} = v" if target else f" _setattr(bs, {n}, v)")
    if collectors:
        get.append(" d = bs.__dict__")
    for kwargs_type in collectors:
        get.append(f" _collect(state, d, {const(kwargs_type)})")
    get.append(" return bs")

    # Outputs are read by attribute inside one try block: free when all are set; on a missing
    # one the except branch finds which and names it.
    put = [
        "def set_block_state(state, bs):",
        " inter = state.intermediates",
        " try:",
    ]

    def read(name: str, n: str) -> str:
        target = attr(name)
        return target if target else f"_getattr(bs, {n})"

    written: set[str] = set()
    out_names: list[str] = []
    for out in outputs:
        if out.name in written:
            continue
        written.add(out.name)
        out_names.append(out.name)
        n = const(out.name)
        put.append(f"  inter[{n}] = {read(out.name, n)}")
        if out.kwargs_type:
            put.append(f"  _tag(state.intermediate_kwargs, {const(out.kwargs_type)}, {n})")
    for param in intermediate_inputs:
        if param.name is None or param.name in written:
            continue
        written.add(param.name)
        n = const(param.name)
        # written back only when the block rebound it (identity, not equality)
        put += [f"  v = {read(param.name, n)}", f"  if v is not inter.get({n}): inter[{n}] = v"]
    for param in inputs:
        if param.name is None or param.name in written:
            continue
        written.add(param.name)
        n = const(param.name)
        # an `inputs` name produced upstream lives in the intermediates (later diffusers style);
        # a caller's input is never written.
        put += [
            f"  if {n} in inter:",
            f"   v = {read(param.name, n)}",
            f"   if v is not inter[{n}]: inter[{n}] = v",
        ]
    # Attribute reads sit in one try block: free when all are set; on a missing one the except
    # branch finds which declared output it was and names it.
    if len(put) == 3:
        put.append("  pass")
    put += [" except AttributeError:", f"  _missing_output_of(bs, {const(tuple(out_names))})"]
    put.append(" return None")

    namespace: dict[str, Any] = {}
    exec("\n".join(get) + "\n\n" + "\n".join(put), dict(consts), namespace)  # noqa: S102
    return namespace["get_block_state"], namespace["set_block_state"]


def _missing_input(block_class: str) -> Callable[[str], None]:
    def raise_missing(name: str) -> None:
        raise MissingInputError([("", block_class, name)])

    return raise_missing


def _missing_output(block_class: str) -> Callable[[BlockState, tuple[str, ...]], None]:
    def raise_missing(block_state: BlockState, names: tuple[str, ...]) -> None:
        for name in names:
            if name not in block_state.__dict__:
                raise MissingOutputError(block_class, name)
        raise  # an AttributeError from a property or __getattr__ of the caller's own making

    return raise_missing


def _collect_kwargs(state: Any, d: dict[str, Any], kwargs_type: str) -> None:
    collected = {**state.get_inputs_kwargs(kwargs_type), **state.get_intermediates_kwargs(kwargs_type)}
    for key, value in collected.items():
        d.setdefault(key, value)
    d[kwargs_type] = collected


def build_loop_step(
    names: Sequence[str],
    calls: Sequence[tuple[str, Any]],
    epoch: list[int],
    epoch_value: int,
    generic: Callable[..., Any],
    fail: Callable[[BaseException, int, Any], Any],
) -> Callable[..., Any] | None:
    """A ``loop_step`` unrolled over the sub-blocks for one set of keyword names.

    Forwarding ``**kwargs`` costs a dict copy and an un-inlinable call per sub-block; a step
    compiled for the names the loop actually passes (``i=..., t=...``) avoids both. Calls with
    other names, or after sub-block surgery, take ``generic``.
    """
    if not all(n.isidentifier() and not keyword.iskeyword(n) for n in names):
        return None
    if any(n in ("components", "block_state") or n.startswith("_") for n in names):
        return None
    consts: dict[str, Any] = {"_MISS": _MISSING, "_EPOCH": epoch, "_generic": generic, "_fail": fail}
    params = "".join(f", {n}=_MISS" for n in names)
    passed = ", ".join(f"{n}={n}" for n in names)
    missing = " or ".join([*(f"{n} is _MISS" for n in names), f"_EPOCH[0] != {epoch_value}"])
    lines = [
        f"def loop_step(components, block_state{params}, **_other):",
        f" if _other or {missing}:",
        "  kw = {k: v for k, v in (" + "".join(f"({n!r}, {n}), " for n in names) + ") if v is not _MISS}",
        "  return _generic(components, block_state, **kw, **_other)",
        " k = 0",
        " try:",
    ]
    for i, (_, call) in enumerate(calls):
        consts[f"_f{i}"] = call
        lines += [
            f"  k = {i}",
            f"  components, block_state = _f{i}(components, block_state{', ' if names else ''}{passed})",
        ]
    lines += [" except Exception as exc:", "  _fail(exc, k, block_state)", " return components, block_state"]
    namespace: dict[str, Any] = {}
    exec("\n".join(lines), consts, namespace)  # noqa: S102
    return namespace["loop_step"]


def build_sequential_run(
    calls: Sequence[Any], fail: Callable[[BaseException, int, Any], Any]
) -> Callable[..., Any]:
    """The body of a sequential run, unrolled: one direct call per sub-block, no loop."""
    consts: dict[str, Any] = {"_fail": fail}
    lines = ["def run(components, state):", " k = 0", " try:"]
    for i, call in enumerate(calls):
        consts[f"_f{i}"] = call
        lines += [f"  k = {i}", f"  components, state = _f{i}(components, state)"]
    if not calls:
        lines.append("  pass")
    lines += [" except Exception as exc:", "  _fail(exc, k, state)", " return components, state"]
    namespace: dict[str, Any] = {}
    exec("\n".join(lines), consts, namespace)  # noqa: S102
    return namespace["run"]
