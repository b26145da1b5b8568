"""Checks on the values a pipeline is called with, made before any block runs.

* :func:`value_problem` checks a value against an :class:`InputParam`'s type hint (compiled by
  ``_hints``) and its declared ``choices``/``ge``/``gt``/``le``/``lt``.
* :func:`raise_call_problems` reports missing inputs, missing components and bad values together.
* :func:`fresh` copies the builtin containers of a caller's value, so blocks never change it.
* :func:`check_nesting` refuses block trees nested deeper than Python's recursion limit allows.
"""

from __future__ import annotations

import math
import operator
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from ._errors import BlockDefinitionError, DiffblocksError, MissingComponentError, MissingInputError
from ._hints import compile_hint


def _show(value: Any) -> str:
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"{type(value).__name__} of shape {tuple(shape)}"
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


#: InputParam's bound fields, how messages write them, and their tests
_BOUNDS = (
    ("ge", ">=", operator.ge),
    ("gt", ">", operator.gt),
    ("le", "<=", operator.le),
    ("lt", "<", operator.lt),
)


def value_problem(value: Any, param: Any) -> str | None:
    """What is wrong with ``value`` for ``param`` (an :class:`InputParam`), or None if it fits.

    None values are not checked here: a missing required value is a missing input.
    """
    if value is None:
        return None
    hint = compile_hint(param.type_hint)
    if hint is not None and not hint.ok(value):
        return f"expected {hint.text}, got {_show(value)}"
    # numbers: NaN passes every comparison test, so it is refused where a range is declared
    choices = getattr(param, "choices", None)
    if choices is not None and value not in list(choices):
        return f"must be one of {', '.join(repr(c) for c in choices)}; got {value!r}"
    declared = [
        (word, bound, test)
        for field, word, test in _BOUNDS
        if (bound := getattr(param, field, None)) is not None
    ]
    # the whole declared range in the message ("must be >= 0 and <= 1"), not only the bound missed
    allowed = " and ".join(f"{word} {bound}" for word, bound, _ in declared)
    for _, bound, test in declared:
        try:
            fits = test(value, bound) and not (isinstance(value, float) and math.isnan(value))
        except TypeError:
            return f"must be a number {allowed}; got {_show(value)}"
        if not fits:
            return f"must be {allowed}; got {value!r}"
    return None


# -- errors ------------------------------------------------------------------------------------
class InvalidInputError(DiffblocksError, TypeError, ValueError):
    """A value passed to a pipeline does not fit what a block declares. Raised before any block runs."""

    def __init__(self, invalid: Sequence[tuple[str, str, str, str]]) -> None:
        # invalid: (block path, block class, parameter name, what is wrong)
        super().__init__()
        self.invalid = list(invalid)

    def _lines(self) -> list[str]:
        return [
            f"  - {param!r} for block {path or '<root>'!r} ({cls}): {why}. Pass a value that fits."
            for path, cls, param, why in self.invalid
        ]

    def __str__(self) -> str:
        return "\n".join([f"{len(self.invalid)} input value(s) invalid; no block has run:", *self._lines()])


class PipelineCallError(MissingInputError, MissingComponentError, InvalidInputError):
    """Several kinds of problem with one pipeline call (missing inputs, missing components,
    invalid values), reported together. It is each of those error classes."""

    def __init__(
        self,
        missing: Sequence[tuple[str, str, str]],
        components: Sequence[tuple[str, str, str]],
        invalid: Sequence[tuple[str, str, str, str]],
    ) -> None:
        DiffblocksError.__init__(self)
        self.missing = list(missing)
        self.missing_components = list(components)
        self.invalid = list(invalid)

    def __str__(self) -> str:
        parts = ["The pipeline call has problems; no block has run."]
        if self.missing:
            parts.append(MissingInputError.__str__(self))
        if self.missing_components:
            parts.append(str(MissingComponentError(self.missing_components)))
        if self.invalid:
            parts.append(InvalidInputError.__str__(self))
        return "\n".join(parts)


def raise_call_problems(
    missing: Sequence[tuple[str, str, str]],
    components: Sequence[tuple[str, str, str]],
    invalid: Sequence[tuple[str, str, str, str]],
) -> None:
    """Raise one error for everything wrong with a call (nothing when all lists are empty)."""
    kinds = sum(1 for x in (missing, components, invalid) if x)
    if kinds > 1:
        raise PipelineCallError(missing, components, invalid)
    if missing:
        raise MissingInputError(missing)
    if components:
        raise MissingComponentError(components)
    if invalid:
        raise InvalidInputError(invalid)


_CONSTRAINTS = ("choices", "ge", "gt", "le", "lt")


def step_params(steps: Iterable[Any]) -> list[tuple[str, str, Any]]:
    """(path, block class, InputParam) for the inputs of every step of a plan (each with
    ``.path`` and ``.block``), to check values against once per call.

    Only params that declare something checkable are kept, and each distinct (name, constraints)
    once, at the first block that declares it: the same value against the same constraints gives
    the same answer, so a chain of blocks sharing an input costs one check per call, not one per
    block (this list is built once per plan and walked on every call).
    """
    kept: list[tuple[str, str, Any]] = []
    seen: set[tuple[Any, ...]] = set()
    for step in steps:
        for p in [*step.block.inputs, *step.block.intermediate_inputs]:
            constraints = (p.type_hint, *(getattr(p, c, None) for c in _CONSTRAINTS))
            if not p.name or all(c is None for c in constraints):
                continue
            try:
                key: tuple[Any, ...] = (p.name, *constraints)
                hash(key)
            except TypeError:  # an unhashable hint or choice list: keep it, unshared
                key = (p.name, id(p))
            if key not in seen:
                seen.add(key)
                kept.append((step.path, type(step.block).__name__, p))
    return kept


def invalid_values(
    params: Iterable[tuple[str, str, Any]], values: dict[str, Any]
) -> list[tuple[str, str, str, str]]:
    """(path, class, name, problem) for each ``(path, block class, InputParam)`` whose name has a
    value in ``values`` that does not fit it."""
    found: list[tuple[str, str, str, str]] = []
    seen: set[tuple[str, str]] = set()
    for path, cls, param in params:
        name = param.name
        if name is None or name not in values or (path, name) in seen:
            continue
        seen.add((path, name))
        why = value_problem(values[name], param)
        if why is not None:
            found.append((path, cls, name, why))
    return found


# -- the caller's objects ------------------------------------------------------------------------
def fresh(value: Any) -> Any:
    """``value`` with its builtin containers (list, dict, set, bytearray, and tuples holding them)
    copied at every level, so a block that mutates them never changes the caller's objects or a
    declared default. Everything else (tensors, arrays, images, models) is shared, not copied."""
    cls = value.__class__
    if cls is list:
        return [fresh(v) for v in value]
    if cls is dict:
        return {k: fresh(v) for k, v in value.items()}
    if cls is set:
        return set(value)
    if cls is bytearray:
        return bytearray(value)
    if cls is tuple and any(v.__class__ in (list, dict, set, bytearray, tuple) for v in value):
        return tuple(fresh(v) for v in value)
    return value


# -- nesting -----------------------------------------------------------------------------------
#: Python frames one level of block nesting costs while declarations are aggregated or blocks
#: run; measured with nested SequentialPipelineBlocks, rounded up.
FRAMES_PER_LEVEL = 6


def nesting(blocks: Any) -> tuple[int, str]:
    """The depth of the deepest nested block under ``blocks`` and its dotted path (iterative)."""
    deepest, where = 0, ""
    stack: list[tuple[Any, int, str]] = [(blocks, 0, "")]
    while stack:
        block, depth, path = stack.pop()
        if depth > deepest:
            deepest, where = depth, path
        subs = block.__dict__.get("_sub_blocks")
        if subs:
            for name, sub in subs.items():
                stack.append((sub, depth + 1, f"{path}.{name}" if path else name))
    return deepest, where


def max_nesting() -> int:
    """The deepest nesting Python's current recursion limit leaves room for."""
    return max(1, (sys.getrecursionlimit() - 100) // FRAMES_PER_LEVEL)


def check_nesting(blocks: Any) -> None:
    """Raise a clear error when ``blocks`` is nested too deep to aggregate or run."""
    depth, where = nesting(blocks)
    limit = max_nesting()
    if depth > limit:
        shown = where if len(where) <= 120 else where[:60] + " ... " + where[-50:]
        raise BlockDefinitionError(
            f"blocks are nested {depth} levels deep (at {shown!r}); with Python's recursion limit of "
            f"{sys.getrecursionlimit()} diffblocks supports at most {limit} levels. Flatten the "
            f"structure: put the blocks of a sequence side by side instead of one inside another"
        )


__all__ = [
    "InvalidInputError",
    "PipelineCallError",
    "check_nesting",
    "fresh",
    "invalid_values",
    "raise_call_problems",
    "step_params",
    "value_problem",
]
