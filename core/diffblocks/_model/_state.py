"""PipelineState (what a run holds) and BlockState (what one block sees)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any


class PipelineState:
    """The values of one pipeline run, in two namespaces.

    ``inputs`` holds what the caller gave and is read-only for blocks (a mapping proxy);
    ``intermediates`` holds what blocks produce or modify. Values may be tagged with a
    ``kwargs_type`` so a block can collect every value of one kind at once.
    """

    __slots__ = ("_inputs", "intermediates", "input_kwargs", "intermediate_kwargs")

    def __init__(self) -> None:
        self._inputs: dict[str, Any] = {}
        self.intermediates: dict[str, Any] = {}
        self.input_kwargs: dict[str, list[str]] = {}
        self.intermediate_kwargs: dict[str, list[str]] = {}

    @property
    def inputs(self) -> Mapping[str, Any]:
        return MappingProxyType(self._inputs)

    def set_input(self, key: str, value: Any, kwargs_type: str | None = None) -> None:
        self._inputs[key] = value
        if kwargs_type is not None:
            _tag(self.input_kwargs, kwargs_type, key)

    add_input = set_input

    def set_intermediate(self, key: str, value: Any, kwargs_type: str | None = None) -> None:
        self.intermediates[key] = value
        if kwargs_type is not None:
            _tag(self.intermediate_kwargs, kwargs_type, key)

    add_intermediate = set_intermediate

    def get_input(self, key: str, default: Any = None) -> Any:
        return self._inputs.get(key, default)

    def get_inputs(self, keys: Iterable[str], default: Any = None) -> dict[str, Any]:
        return {k: self._inputs.get(k, default) for k in keys}

    def get_intermediate(self, key: str, default: Any = None) -> Any:
        return self.intermediates.get(key, default)

    def get_intermediates(self, keys: Iterable[str], default: Any = None) -> dict[str, Any]:
        return {k: self.intermediates.get(k, default) for k in keys}

    def get(self, key: str, default: Any = None) -> Any:
        """A value by name: intermediates first, then inputs."""
        if key in self.intermediates:
            return self.intermediates[key]
        return self._inputs.get(key, default)

    def __contains__(self, key: str) -> bool:
        return key in self.intermediates or key in self._inputs

    def get_inputs_kwargs(self, kwargs_type: str) -> dict[str, Any]:
        return {k: self._inputs[k] for k in self.input_kwargs.get(kwargs_type, ()) if k in self._inputs}

    def get_intermediates_kwargs(self, kwargs_type: str) -> dict[str, Any]:
        names = self.intermediate_kwargs.get(kwargs_type, ())
        return {k: self.intermediates[k] for k in names if k in self.intermediates}

    def to_dict(self) -> dict[str, Any]:
        return {
            "inputs": dict(self._inputs),
            "intermediates": dict(self.intermediates),
            "input_kwargs": {k: list(v) for k, v in self.input_kwargs.items()},
            "intermediate_kwargs": {k: list(v) for k, v in self.intermediate_kwargs.items()},
        }

    def __repr__(self) -> str:
        return (
            "PipelineState(\n"
            f"  inputs={format_values(self._inputs)},\n"
            f"  intermediates={format_values(self.intermediates)}\n)"
        )


class BlockState:
    """The attribute bag one block works on.

    It defines no ``__getattr__`` on purpose: that would slow every attribute read in every
    block. A read of a missing value is explained by the BlockExecutionError that wraps it.
    """

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)

    def __setitem__(self, key: str, value: Any) -> None:
        setattr(self, key, value)

    def __contains__(self, key: str) -> bool:
        return key in self.__dict__

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def __repr__(self) -> str:
        return f"BlockState({format_values(self.__dict__)})"


class _BlockStateFast(BlockState):
    """What compiled getters build: a BlockState whose construction runs no Python ``__init__``."""

    __slots__ = ()
    __init__ = object.__init__  # type: ignore[assignment]


def _tag(index: dict[str, list[str]], kwargs_type: str, key: str) -> None:
    names = index.setdefault(kwargs_type, [])
    if key not in names:
        names.append(key)


def format_value(value: Any) -> str:
    """Short, deterministic text for a value: tensors and arrays by shape and dtype."""
    shape = getattr(value, "shape", None)
    if shape is not None and hasattr(value, "dtype"):
        return f"{type(value).__name__}(shape={tuple(shape)}, dtype={value.dtype})"
    if isinstance(value, (list, tuple)) and len(value) > 4:
        inner = ", ".join(format_value(v) for v in value[:3])
        return f"{type(value).__name__}[{len(value)}]({inner}, ...)"
    if isinstance(value, (list, tuple)):
        return (
            f"{type(value).__name__}({', '.join(format_value(v) for v in value)})"
            if any(getattr(v, "shape", None) is not None for v in value)
            else repr(value)
        )
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def format_values(values: Mapping[str, Any]) -> str:
    if not values:
        return "{}"
    return "{" + ", ".join(f"{k}: {format_value(v)}" for k, v in values.items()) + "}"


__all__ = ["BlockState", "PipelineState", "format_value"]
