"""InsertableDict: an ordered dict that can insert a key at a position."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class InsertableDict(OrderedDict[K, V]):
    """An ordered dict that can insert (or move) a key at a position."""

    def insert(self, key: K, value: V, index: int) -> None:
        items = [(k, v) for k, v in self.items() if k != key]
        index = max(0, min(len(items), index if index >= 0 else len(items) + index + 1))
        items.insert(index, (key, value))
        OrderedDict.clear(self)
        for k, v in items:
            OrderedDict.__setitem__(self, k, v)
        self._changed()

    def _changed(self) -> None:
        """Called after every change; subclasses use it to drop what they derived."""

    def __setitem__(self, key: K, value: V) -> None:
        super().__setitem__(key, value)
        self._changed()

    def __delitem__(self, key: K) -> None:
        super().__delitem__(key)
        self._changed()

    def pop(self, key: K, *default: Any) -> Any:  # type: ignore[override]
        value = super().pop(key, *default)
        self._changed()
        return value

    def popitem(self, last: bool = True) -> tuple[K, V]:
        item = super().popitem(last)
        self._changed()
        return item

    def clear(self) -> None:
        super().clear()
        self._changed()

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        for k, v in dict(*args, **kwargs).items():
            self[k] = v

    def setdefault(self, key: K, default: Any = None) -> Any:  # type: ignore[override]
        if key not in self:
            self[key] = default
        return self[key]

    def move_to_end(self, key: K, last: bool = True) -> None:
        super().move_to_end(key, last)
        self._changed()

    def __repr__(self) -> str:
        if not self:
            return "InsertableDict()"
        lines = [f"  {i}: ({k!r}, {_short(v)})" for i, (k, v) in enumerate(self.items())]
        return "InsertableDict(\n" + "\n".join(lines) + "\n)"


def _short(value: Any) -> str:
    if isinstance(value, type):
        return f"<class {value.__qualname__}>"
    return f"{type(value).__name__} object"


def pairs(mapping: Any) -> Iterable[tuple[Any, Any]]:
    """(key, value) pairs of a mapping or of an iterable of pairs, duplicates kept."""
    if hasattr(mapping, "items"):
        return list(mapping.items())
    return [tuple(p) for p in mapping]


__all__ = ["InsertableDict"]
