"""PipelineState (what a run holds) and BlockState (what one block sees)."""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ._checks import fresh
from ._errors import suggest

if TYPE_CHECKING:
    from ._params import InputParam


class PipelineState:
    """The values of one pipeline run, in two namespaces.

    ``inputs`` holds what the caller gave and is read-only for blocks (a mapping proxy);
    ``intermediates`` holds what blocks produce or modify. A name present in both reads from the
    intermediates. Values may be tagged with a ``kwargs_type`` so a block can collect every value
    of one kind at once.

    The Modular Diffusers 0.42 surface works too: ``set`` (writes an intermediate), ``get`` of one
    name or a list, ``get_by_kwargs``, ``values`` (one live view of both namespaces),
    ``kwargs_mapping`` and attribute reads (``state.latents``).
    """

    __slots__ = ("_inputs", "intermediates", "input_kwargs", "intermediate_kwargs")

    def __init__(
        self,
        values: Mapping[str, Any] | None = None,
        kwargs_mapping: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self._inputs: dict[str, Any] = dict(values or {})
        self.intermediates: dict[str, Any] = {}
        self.input_kwargs: dict[str, list[str]] = {k: list(v) for k, v in (kwargs_mapping or {}).items()}
        self.intermediate_kwargs: dict[str, list[str]] = {}

    @property
    def inputs(self) -> Mapping[str, Any]:
        return MappingProxyType(self._inputs)

    def set_input(self, key: str, value: Any, kwargs_type: str | None = None) -> None:
        """A value from the caller. It replaces whatever a previous run left under ``key`` in
        the intermediates, so a caller's value always wins over a reused state's leftovers."""
        self._inputs[key] = value
        self.intermediates.pop(key, None)
        if kwargs_type is not None:
            _tag(self.input_kwargs, kwargs_type, key)

    add_input = set_input

    def set_intermediate(self, key: str, value: Any, kwargs_type: str | None = None) -> None:
        self.intermediates[key] = value
        if kwargs_type is not None:
            _tag(self.intermediate_kwargs, kwargs_type, key)

    add_intermediate = set_intermediate
    #: diffusers 0.42's name: blocks that write the state directly produce intermediates
    set = set_intermediate

    def get_input(self, key: str, default: Any = None) -> Any:
        return self._inputs.get(key, default)

    def get_inputs(self, keys: Iterable[str], default: Any = None) -> dict[str, Any]:
        return {k: self._inputs.get(k, default) for k in keys}

    def get_intermediate(self, key: str, default: Any = None) -> Any:
        return self.intermediates.get(key, default)

    def get_intermediates(self, keys: Iterable[str], default: Any = None) -> dict[str, Any]:
        return {k: self.intermediates.get(k, default) for k in keys}

    def get(self, key: str | Sequence[str], default: Any = None) -> Any:
        """A value by name (intermediates first, then inputs); a list of names gives a dict."""
        if not isinstance(key, str):
            return {k: self.get(k, default) for k in key}
        if key in self.intermediates:
            return self.intermediates[key]
        return self._inputs.get(key, default)

    def discard(self, key: str) -> None:
        """Forget ``key`` in both namespaces (a caller passing None for a value a run left)."""
        self._inputs.pop(key, None)
        self.intermediates.pop(key, None)

    def __contains__(self, key: str) -> bool:
        return key in self.intermediates or key in self._inputs

    def __getattr__(self, name: str) -> Any:
        # reached only when normal lookup fails: `state.latents` reads a value, as in diffusers.
        # Its price on CPython 3.11 (not 3.12+): no attribute read on a PipelineState is
        # specialized, so each block's `state.intermediates` costs ~20 ns more (docs/performance.md).
        if name.startswith("_") or name in PipelineState.__slots__:
            raise AttributeError(name)  # not set up yet (copying, unpickling)
        if name in self.intermediates:
            return self.intermediates[name]
        if name in self._inputs:
            return self._inputs[name]
        hint = suggest(name, [*self.intermediates, *self._inputs])
        raise AttributeError(f"the pipeline state holds no value named {name!r}.{hint}")

    @property
    def values(self) -> MutableMapping[str, Any]:
        """Every value by name, intermediates over inputs; writing through it sets intermediates."""
        return ChainMap(self.intermediates, self._inputs)

    @property
    def kwargs_mapping(self) -> dict[str, list[str]]:
        """kwargs_type -> the names tagged with it, in both namespaces."""
        merged = {k: list(v) for k, v in self.input_kwargs.items()}
        for kwargs_type, names in self.intermediate_kwargs.items():
            have = merged.setdefault(kwargs_type, [])
            have += [n for n in names if n not in have]
        return merged

    def get_inputs_kwargs(self, kwargs_type: str) -> dict[str, Any]:
        return {k: self._inputs[k] for k in self.input_kwargs.get(kwargs_type, ()) if k in self._inputs}

    def get_intermediates_kwargs(self, kwargs_type: str) -> dict[str, Any]:
        names = self.intermediate_kwargs.get(kwargs_type, ())
        return {k: self.intermediates[k] for k in names if k in self.intermediates}

    def get_by_kwargs(self, kwargs_type: str) -> dict[str, Any]:
        """Every value tagged ``kwargs_type`` (in either namespace), read as :meth:`get` reads it."""
        names = [*self.input_kwargs.get(kwargs_type, ()), *self.intermediate_kwargs.get(kwargs_type, ())]
        return {k: self.get(k) for k in names if k in self}

    def apply_caller_values(
        self,
        inputs: Iterable[InputParam],
        intermediate_inputs: Iterable[InputParam],
        given: dict[str, Any],
    ) -> None:
        """Put one call's values into this state: ``inputs`` into the inputs namespace,
        ``intermediate_inputs`` (those nothing upstream produces) into the intermediates.

        A value the caller passes replaces what the state holds under that name; an explicit None
        clears it. A default fills a name only where the state holds nothing, so a reused state
        keeps what its previous run left. A dict passed under a ``kwargs_type`` that a nameless
        param collects is spread into its values, each tagged with that kind. ``given`` is
        consumed; names left in it (nested inputs) are put in as inputs.
        """
        for params, put in ((inputs, self.set_input), (intermediate_inputs, self.set_intermediate)):
            for p in params:
                name = p.name
                if name is None:
                    if p.kwargs_type is not None and p.kwargs_type in given:
                        spread = given.pop(p.kwargs_type)
                        if not isinstance(spread, Mapping):
                            raise TypeError(
                                f"{p.kwargs_type}= must be a dict of values to tag {p.kwargs_type!r}, "
                                f"not {type(spread).__name__}"
                            )
                        for key, value in spread.items():
                            put(key, fresh(value), p.kwargs_type)
                    continue
                if name in given:
                    value = given.pop(name)
                    if value is not None:
                        # Blocks never change the caller's objects. Inputs keep the caller's own
                        # object (blocks read copies of its containers: _blocks/_access.py);
                        # intermediates are written by blocks, so they get a copy up front.
                        put(name, value if put == self.set_input else fresh(value), p.kwargs_type)
                        continue
                    self.discard(name)
                if p.default is not None and self.get(name) is None:
                    put(name, fresh(p.default), p.kwargs_type)  # mutable defaults: fresh every run
        for name, value in given.items():
            if value is None:
                self.discard(name)
            else:
                self.set_input(name, value)
        given.clear()

    def to_dict(self) -> dict[str, Any]:
        return {
            "inputs": dict(self._inputs),
            "intermediates": dict(self.intermediates),
            "input_kwargs": {k: list(v) for k, v in self.input_kwargs.items()},
            "intermediate_kwargs": {k: list(v) for k, v in self.intermediate_kwargs.items()},
            "values": dict(self.values),
            "kwargs_mapping": self.kwargs_mapping,
        }

    def __repr__(self) -> str:
        kinds = self.kwargs_mapping
        tags = f",\n  kwargs_mapping={kinds}" if kinds else ""
        return (
            "PipelineState(\n"
            f"  inputs={format_values(self._inputs)},\n"
            f"  intermediates={format_values(self.intermediates)}{tags}\n)"
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
