"""Type hints compiled into value checks, never importing what they name.

Hints may be real types, ``typing`` constructs or the strings blocks use to stay import-free
(``"torch.Tensor"``, ``"str | list[str]"``, ``"PIL.Image.Image"``, ``"module:Class"``). Tensors,
arrays and images are recognised by their class's name and top-level package, so this module never
imports torch, numpy or PIL. A hint it cannot check (``Any``, a ``TypeVar``, an unknown construct)
accepts every value.
"""

from __future__ import annotations

import numbers
import re
import sys
import types
import typing
from collections import abc
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import Any


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


__all__ = [
    "compile_hint",
    "is_sequence_hint",
    "union_members",
]
