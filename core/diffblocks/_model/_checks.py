"""Checks on the values a pipeline is called with, made before any block runs.

* :func:`value_problem` checks a value against an :class:`InputParam`'s type hint and its declared
  ``choices``/``ge``/``gt``/``le``/``lt``. Hints may be real types, ``typing`` constructs or the
  strings blocks use to stay import-free (``"torch.Tensor"``, ``"str | list[str]"``,
  ``"PIL.Image.Image"``, ``"module:Class"``). Tensors, arrays and images are recognised by their
  class's name and top-level package, so this module never imports torch, numpy or PIL. A hint
  it cannot check (``Any``, a ``TypeVar``, an unknown construct) accepts every value.
* :func:`raise_call_problems` reports missing inputs, missing components and bad values together.
* :func:`fresh` copies the builtin containers of a caller's value, so blocks never change it.
* :func:`pickle_weights_problem` finds pickle weight files diffblocks refuses to load.
* :func:`check_nesting` refuses block trees nested deeper than Python's recursion limit allows.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import re
import sys
import types
import typing
from collections import abc
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import Any

from ._errors import BlockDefinitionError, DiffblocksError, MissingComponentError, MissingInputError


# -- type hints ----------------------------------------------------------------------------------
class _Hint:
    """A compiled type hint: ``ok(value)`` says whether ``value`` fits; ``text`` names it."""

    __slots__ = ("ok", "text")

    def __init__(self, ok: Callable[[Any], bool], text: str) -> None:
        self.ok, self.text = ok, text


#: Module aliases blocks use in string hints ("np.ndarray").
_ALIASES = {"np": "numpy", "pd": "pandas"}
_BUILTINS: dict[str, type] = {
    t.__name__: t for t in (int, float, bool, str, bytes, list, dict, tuple, set, frozenset, complex)
}
_GENERIC_NAMES: dict[str, type] = {
    "list": list,
    "List": list,
    "Sequence": abc.Sequence,
    "tuple": tuple,
    "Tuple": tuple,
    "dict": dict,
    "Dict": dict,
    "Mapping": abc.Mapping,
    "set": set,
    "Set": set,
}
_NAME = re.compile(r"^[A-Za-z_][\w.:]*$")
#: A tuple hint also takes a list: spec files, JSON and the command line have no tuples.
_TUPLE_LIKE = (tuple, list)


def _is_int(value: Any) -> bool:
    # bool is an int subclass, but True for a step count is a mistake worth reporting
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _of_type(cls: type) -> _Hint:
    if cls is int:
        return _Hint(_is_int, "int")
    if cls is float:
        return _Hint(_is_real, "float")
    if cls is complex:
        return _Hint(lambda v: isinstance(v, numbers.Number) and not isinstance(v, bool), "complex")
    if cls is tuple:
        return _Hint(lambda v: isinstance(v, _TUPLE_LIKE), "tuple")
    return _Hint(lambda v: isinstance(v, cls), cls.__qualname__)


def _by_name(dotted: str) -> _Hint:
    """A class named in a string (``torch.Tensor``, ``PIL.Image.Image``, ``pkg.mod:Class``):
    matched against the value's class hierarchy by name and top-level package, without importing."""
    module, _, name = dotted.replace(":", ".").rpartition(".")
    root = module.split(".")[0]
    root = _ALIASES.get(root, root)

    def ok(value: Any) -> bool:
        for cls in type(value).__mro__:
            if cls.__module__.split(".")[0] != root:
                continue
            # torch's legacy names (torch.FloatTensor, ...) all describe tensors
            if cls.__name__ == name or (
                root == "torch" and name.endswith("Tensor") and cls.__name__ == "Tensor"
            ):
                return True
        return False

    return _Hint(ok, dotted.rpartition(":")[2] if ":" in dotted else dotted)


def _union(options: Sequence[_Hint | None]) -> _Hint | None:
    if any(o is None for o in options):
        return None  # one alternative accepts anything, so the union does
    hints = [o for o in options if o is not None]
    if len(hints) == 1:
        return hints[0]
    return _Hint(lambda v: any(h.ok(v) for h in hints), " | ".join(h.text for h in hints))


def _container(origin: type, args: Sequence[_Hint | None], text: str) -> _Hint:
    if origin is dict or origin is abc.Mapping:
        key, val = (list(args) + [None, None])[:2]

        def ok_dict(v: Any) -> bool:
            return isinstance(v, origin) and all(
                (key is None or key.ok(k)) and (val is None or val.ok(x)) for k, x in v.items()
            )

        return _Hint(ok_dict, text)
    if origin is tuple and args and not (len(args) == 2 and args[1] is _ELLIPSIS):
        fixed = list(args)
        any_item = _union(fixed)

        def ok_tuple(v: Any) -> bool:
            if not isinstance(v, _TUPLE_LIKE):
                return False
            if len(v) == len(fixed):
                return all(h is None or h.ok(x) for h, x in zip(fixed, v))
            # lengths are not checked: hints like diffusers' `tuple[int]` mean "a tuple of ints"
            return any_item is None or all(any_item.ok(x) for x in v)

        return _Hint(ok_tuple, text)
    accepted: type | tuple[type, ...] = _TUPLE_LIKE if origin is tuple else origin
    item = args[0] if args else None

    def ok_items(v: Any) -> bool:
        # a variadic tuple[int, ...] checks its items like a list
        return isinstance(v, accepted) and (
            item is None or all(item.ok(x) for x in typing.cast(Iterable[Any], v))
        )

    return _Hint(ok_items, text)


_ELLIPSIS = _Hint(lambda v: True, "...")


def _split_top(text: str, sep: str) -> list[str]:
    """Split ``text`` at ``sep`` outside brackets."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


#: Module names written as type hints. The seed document and diffusers' blocks write "PIL.Image"
#: (the module) for an image input; it names no class, so such values are not checked.
_MODULE_HINTS = frozenset({"PIL.Image"})


def _from_string(text: str) -> _Hint | None:
    text = text.strip()
    alternatives = _split_top(text, "|")
    if len(alternatives) > 1:
        return _union([_from_string(a) for a in alternatives])
    head, bracket, rest = text.partition("[")
    head = head.strip().removeprefix("typing.")
    if bracket:
        if not rest.endswith("]"):
            return None
        args = [a for a in _split_top(rest[:-1], ",") if a]
        if head == "Optional" and len(args) == 1:
            return _union([_from_string(args[0]), _of_type(type(None))])
        if head == "Union":
            return _union([_from_string(a) for a in args])
        if head == "Literal":
            return None  # string literals would need evaluating; declare choices= instead
        origin = _GENERIC_NAMES.get(head)
        if origin is None:
            return None
        parsed = [_ELLIPSIS if a == "..." else _from_string(a) for a in args]
        return _container(origin, parsed, text)
    if head in ("None", "NoneType"):
        return _of_type(type(None))
    if head in _BUILTINS:
        return _of_type(_BUILTINS[head])
    if head in _GENERIC_NAMES:
        return _of_type(_GENERIC_NAMES[head])
    if head == "Callable":
        return _Hint(callable, "Callable")
    if head in _MODULE_HINTS or head in sys.modules:
        return None  # names a module, not a class: nothing to check a value against
    if ("." in head or ":" in head) and _NAME.match(head):
        return _by_name(head)
    return None  # "Any", a bare class name we cannot place, or something unparsable


def _from_typing(hint: Any) -> _Hint | None:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union or origin is types.UnionType:
        return _union([compile_hint(a) for a in args])
    if origin is typing.Literal:
        return _Hint(lambda v: any(v == a and type(v) is type(a) for a in args), repr(hint))
    if origin is typing.Annotated:
        return compile_hint(args[0])
    if origin in (list, tuple, dict, set, frozenset, abc.Sequence, abc.Mapping):
        parsed = [_ELLIPSIS if a is Ellipsis else compile_hint(a) for a in args]
        return _container(origin, parsed, repr(hint).replace("typing.", ""))
    return None


def compile_hint(hint: Any) -> _Hint | None:
    """The checker for ``hint``, or None when it cannot be checked (every value passes)."""
    try:
        return _compile_cached(hint)
    except TypeError:  # an unhashable hint
        return _compile(hint)


@lru_cache(maxsize=1024)
def _compile_cached(hint: Any) -> _Hint | None:
    return _compile(hint)


def _compile(hint: Any) -> _Hint | None:
    if hint is None or hint is Any or hint is object:
        return None
    if isinstance(hint, str):
        return _from_string(hint)
    if typing.get_origin(hint) is not None:
        return _from_typing(hint)
    if isinstance(hint, type):
        return _of_type(hint)
    return None


def union_members(hint: Any) -> list[Any]:
    """``hint`` as the members of a union, nested unions and ``Optional`` flattened, each as
    written (``"str | list[str]"`` -> ``["str", "list[str]"]``); any other hint is a union of one.
    Check a member with :func:`compile_hint`."""
    if isinstance(hint, str):
        text = hint.strip()
        parts = [p for p in _split_top(text, "|") if p]
        if len(parts) > 1:
            return [m for p in parts for m in union_members(p)]
        head, bracket, rest = text.partition("[")
        head = head.strip().removeprefix("typing.")
        if bracket and rest.endswith("]") and head in ("Optional", "Union"):
            args = [a for a in _split_top(rest[:-1], ",") if a]
            return [m for a in args for m in union_members(a)] + (["None"] if head == "Optional" else [])
        return [text]
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        return [m for a in typing.get_args(hint) for m in union_members(a)]
    return [hint]


def is_sequence_hint(member: Any) -> bool:
    """Whether one union member is a list, tuple or Sequence of values (``list[str]``, ``list``)."""
    if isinstance(member, str):
        head = member.strip().partition("[")[0].strip()
        head = head.removeprefix("typing.").removeprefix("collections.abc.")
        return _GENERIC_NAMES.get(head) in (list, tuple, abc.Sequence)
    origin = typing.get_origin(member) or member
    return any(origin is kind for kind in (list, tuple, abc.Sequence))


def _show(value: Any) -> str:
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"{type(value).__name__} of shape {tuple(shape)}"
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


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
    for field, test, word in (
        ("ge", lambda v, b: v >= b, ">="),
        ("gt", lambda v, b: v > b, ">"),
        ("le", lambda v, b: v <= b, "<="),
        ("lt", lambda v, b: v < b, "<"),
    ):
        bound = getattr(param, field, None)
        if bound is None:
            continue
        try:
            fits = test(value, bound) and not (isinstance(value, float) and math.isnan(value))
        except TypeError:
            return f"must be a number {word} {bound}; got {_show(value)}"
        if not fits:
            return f"must be {word} {bound}; got {value!r}"
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


# -- dtypes ------------------------------------------------------------------------------------
#: The torch dtypes a spec file may name: names only, never any other torch attribute.
DTYPE_NAMES = frozenset(
    {"float16", "half", "bfloat16", "float32", "float", "float64", "double", "float8_e4m3fn", "float8_e5m2"}
)


def dtype_from_name(name: Any) -> Any:
    """The torch dtype called ``name`` (one of :data:`DTYPE_NAMES`); ValueError for anything else,
    so a name like ``"has_mps"`` can never reach an arbitrary torch attribute."""
    if not isinstance(name, str) or name not in DTYPE_NAMES:
        raise ValueError(
            f"dtype {name!r} is not a torch dtype name; use one of {', '.join(sorted(DTYPE_NAMES))}"
        )
    import torch

    return getattr(torch, name)


# -- weights -----------------------------------------------------------------------------------
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")


def pickle_weights_problem(where: str | os.PathLike[str]) -> str | None:
    """Why diffblocks refuses to load from ``where`` (a weights file or a folder), or None.

    Pickle files can run code when loaded, so they are refused; a folder that also has
    ``.safetensors`` files is fine (only those are read).
    """
    where = os.fspath(where)
    fix = (
        "diffblocks loads model weights only from .safetensors files (pickle files can run code "
        "when loaded). Convert it once in a trusted environment, e.g. "
        "`safetensors.torch.save_file(torch.load(path, weights_only=True), 'model.safetensors')` "
        "(or `model.save_pretrained(folder, safe_serialization=True)`), and load that instead"
    )
    if os.path.isfile(where):
        if where.lower().endswith(PICKLE_SUFFIXES):
            return f"{where!r} is a pickle weights file; {fix}"
        return None
    if not os.path.isdir(where):
        return None
    names = sorted(os.listdir(where))
    if any(n.endswith(".safetensors") for n in names):
        return None
    pickles = [n for n in names if n.lower().endswith(PICKLE_SUFFIXES)]
    if pickles:
        return f"{os.path.join(where, pickles[0])!r} is a pickle weights file; {fix}"
    return None


def weights_refusal(
    where: str | os.PathLike[str], subfolder: str | None, options: dict[str, Any]
) -> str | None:
    """Why a component must not be loaded from ``where`` (+ ``subfolder``) with ``options`` (the
    ``from_pretrained`` keywords): ``use_safetensors=False``, pickle weights, a damaged
    safetensors file. None when loading may go ahead."""
    if options.get("use_safetensors", True) is False:
        return (
            "use_safetensors=False is refused: diffblocks loads model weights only from .safetensors "
            "files (pickle files can run code when loaded); drop the argument and convert the weights"
        )
    # a weights file given directly, else the folder the weights are read from
    folder = os.path.join(where, subfolder) if subfolder and os.path.isdir(where) else os.fspath(where)
    return pickle_weights_problem(folder) or safetensors_folder_problem(folder)


def safetensors_problem(file: str | os.PathLike[str]) -> str | None:
    """Why the ``.safetensors`` file is unreadable (truncated, corrupt header), or None.

    Reads only the header (8-byte length, then JSON), so it is cheap and needs no torch."""
    file = os.fspath(file)
    fix = "re-save or re-download it (the file is incomplete or damaged)"
    try:
        size = os.path.getsize(file)
        with open(file, "rb") as fh:
            head = fh.read(8)
            length = int.from_bytes(head, "little") if len(head) == 8 else -1
            if length < 2 or length > min(size - 8, 100 * 2**20):
                return f"{file!r} is not a valid safetensors file (bad header length); {fix}"
            header = json.loads(fh.read(length).decode("utf-8"))
    except OSError as exc:
        return f"{file!r} cannot be read: {exc.strerror}"
    except (UnicodeDecodeError, ValueError):
        return f"{file!r} is not a valid safetensors file (corrupt header); {fix}"
    if not isinstance(header, dict):
        return f"{file!r} is not a valid safetensors file (corrupt header); {fix}"
    end = 0
    for key, entry in header.items():
        offsets = entry.get("data_offsets") if isinstance(entry, dict) and key != "__metadata__" else None
        if isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets):
            end = max(end, offsets[1])
    if 8 + length + end > size:
        return f"{file!r} is truncated: {size} bytes, the header describes {8 + length + end}; {fix}"
    return None


def safetensors_folder_problem(folder: str | os.PathLike[str]) -> str | None:
    """The first problem of the ``.safetensors`` files directly in ``folder``, or None."""
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        return None
    for name in sorted(os.listdir(folder)):
        if name.endswith(".safetensors"):
            problem = safetensors_problem(os.path.join(folder, name))
            if problem:
                return problem
    return None


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
    "DTYPE_NAMES",
    "InvalidInputError",
    "PipelineCallError",
    "check_nesting",
    "compile_hint",
    "dtype_from_name",
    "fresh",
    "invalid_values",
    "is_sequence_hint",
    "pickle_weights_problem",
    "raise_call_problems",
    "safetensors_folder_problem",
    "safetensors_problem",
    "step_params",
    "union_members",
    "value_problem",
    "weights_refusal",
]
