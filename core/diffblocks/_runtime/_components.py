"""Components: what a block receives as ``components``: the pipeline's models, objects and configs."""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

from .._model._errors import suggest
from .._model._params import ComponentSpec, ConfigSpec


class ConfigValues(Mapping[str, Any]):
    """A pipeline's config values, read as ``components.config.name`` or ``components.config["name"]``."""

    def __init__(self, values: dict[str, Any]) -> None:
        object.__setattr__(self, "_values", values)

    def __getattr__(self, name: str) -> Any:
        values = object.__getattribute__(self, "_values")
        if name in values:
            return values[name]
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(_unknown("config", name, list(values)))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"configs are set with pipe.update_components({name}=...), not assigned")

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        return dict(self._values) == (dict(other) if isinstance(other, Mapping) else other)

    def __repr__(self) -> str:
        return repr(self._values)


class Components:
    """A pipeline's components and configs, as blocks see them.

    Blocks read ``components.unet`` and configs as ``components.config.requires_safety``
    (``components.requires_safety`` works too). Taking a model as an attribute is what counts as
    *using* it: with a :class:`ComponentsManager`'s auto CPU offload on, the model is on the
    execution device when it is handed over. :meth:`get`, ``components["unet"]`` and the
    dict-like ``keys``/``values``/``items`` read values without that side effect. Plugins and front ends use the public methods here
    (:meth:`get`, :meth:`set`, :attr:`specs`, :attr:`names`, :attr:`config`), never the internals.
    """

    def __init__(
        self, specs: Mapping[str, ComponentSpec], configs: Mapping[str, ConfigSpec], owner: Any = None
    ) -> None:
        object.__setattr__(self, "_specs", dict(specs))
        object.__setattr__(self, "_config_specs", dict(configs))
        object.__setattr__(self, "_values", {name: None for name in specs})
        object.__setattr__(self, "_configs", {n: c.default for n, c in configs.items()})
        object.__setattr__(self, "_owner", weakref.ref(owner) if owner is not None else None)

    # -- public API -----------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        """Component names, in declaration order (configs not included)."""
        return list(self._values)

    @property
    def config_names(self) -> list[str]:
        return list(self._configs)

    @property
    def specs(self) -> Mapping[str, ComponentSpec]:
        """Each component's current spec (read-only view; change it with :meth:`set_spec`)."""
        return MappingProxyType(self._specs)

    @property
    def config_specs(self) -> Mapping[str, ConfigSpec]:
        return MappingProxyType(self._config_specs)

    @property
    def config(self) -> ConfigValues:
        """Config values: ``components.config.name``."""
        return ConfigValues(self._configs)

    def get(self, name: str) -> Any:
        """The component or config value ``name`` (None when not loaded), without moving it."""
        if name in self._values:
            return self._values[name]
        if name in self._configs:
            return self._configs[name]
        raise KeyError(_unknown("component or config", name, [*self._values, *self._configs]))

    def set(self, name: str, value: Any) -> None:
        """Store a component or config value; specs and a components manager are not touched
        (``pipe.update_components`` does that)."""
        if name in self._values:
            self._values[name] = value
        elif name in self._configs:
            self._configs[name] = value
        else:
            raise KeyError(
                _unknown("component or config", name, [*self._values, *self._configs])
                + "; a pipeline's names come from its blocks' expected_components/expected_configs"
            )

    def spec(self, name: str) -> ComponentSpec:
        """The current spec of component ``name``."""
        try:
            spec: ComponentSpec = self._specs[name]
            return spec
        except KeyError:
            raise KeyError(_unknown("component", name, list(self._specs))) from None

    def set_spec(self, name: str, spec: ComponentSpec) -> None:
        """Replace the spec of component ``name`` (the name must already exist)."""
        self.spec(name)
        self._specs[name] = spec

    def set_config_default(self, name: str, value: Any) -> None:
        """Set config ``name`` and make ``value`` its recorded default (what save_pretrained writes)."""
        spec = self._config_specs[name]
        self._config_specs[name] = ConfigSpec(spec.name, value, spec.description)
        self._configs[name] = value

    def items(self) -> list[tuple[str, Any]]:
        """(name, value) of every component, loaded or not."""
        return list(self._values.items())

    def keys(self) -> list[str]:
        """Component names, so ``SomePipeline(**components)`` works."""
        return list(self._values)

    def values(self) -> list[Any]:
        return list(self._values.values())

    def loaded(self) -> dict[str, Any]:
        """The components that are set (not None)."""
        return {n: v for n, v in self._values.items() if v is not None}

    # -- what diffusers blocks read from `components` (the pipeline there) -------------------
    @property
    def _execution_device(self) -> Any:
        """Where blocks should put new tensors: the offload device when auto offload is on, else
        the device of the first model, else the CPU. (diffusers' blocks read this name.)"""
        manager = self._manager()
        device = manager.execution_device if manager is not None else None
        if device is not None:
            return device
        return self.device

    @property
    def device(self) -> Any:
        import torch

        for value in self._values.values():
            if _is_model(value):
                return next(value.parameters()).device
        return torch.device("cpu")

    @property
    def dtype(self) -> Any:
        import torch

        for value in self._values.values():
            if _is_model(value):
                return next(value.parameters()).dtype
        return torch.float32

    def _manager(self) -> Any:
        owner = self._owner() if self._owner is not None else None
        return getattr(owner, "components_manager", None) if owner is not None else None

    # -- attribute access ---------------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        values = object.__getattribute__(self, "_values")
        if name in values:
            value = values[name]
            if value is not None:
                manager = self._manager()
                if manager is not None:
                    value = manager.use(value)  # auto offload: on the device before a block gets it
            return value
        configs = object.__getattribute__(self, "_configs")
        if name in configs:
            return configs[name]
        if name.startswith("__"):
            raise AttributeError(name)
        ref = object.__getattribute__(self, "_owner")
        owner = ref() if ref is not None else None
        if owner is not None and hasattr(type(owner), name):
            # a family's pipeline class adds properties blocks read (components.vae_scale_factor)
            return getattr(owner, name)
        raise AttributeError(_unknown("component or config", name, [*values, *configs]))

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self._values or name in self._configs:
            self.set(name, value)
        else:
            raise AttributeError(
                f"no component or config named {name!r}; use pipe.update_components() for "
                f"known names ({', '.join([*self._values, *self._configs]) or 'none'})"
            )

    def __getitem__(self, name: str) -> Any:
        try:
            return self.get(name)
        except KeyError as exc:
            raise KeyError(exc.args[0]) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, name: object) -> bool:
        return name in self._values or name in self._configs

    def __repr__(self) -> str:
        rows = [f"  {n}: {describe_component(v)}" for n, v in self._values.items()]
        rows += [f"  {n} = {v!r}" for n, v in self._configs.items()]
        return "Components(\n" + "\n".join(rows) + "\n)" if rows else "Components()"


def _unknown(kind: str, name: str, known: list[str]) -> str:
    return f"no {kind} named {name!r}.{suggest(name, known)} Known: {', '.join(known) or '(none)'}"


def _is_model(value: Any) -> bool:
    return hasattr(value, "parameters") and hasattr(value, "to") and callable(value.parameters)


def model_bytes(model: Any) -> int:
    """Bytes of a model's parameters and buffers, each storage counted once."""
    seen: set[int] = set()
    total = 0
    tensors = list(model.parameters())
    if hasattr(model, "buffers"):
        tensors += list(model.buffers())
    for t in tensors:
        key = id(t)
        if key not in seen:
            seen.add(key)
            total += t.numel() * t.element_size()
    return total


def describe_component(value: Any) -> str:
    """One line for a component: its class, and for models dtype, device and size."""
    if value is None:
        return "not loaded"
    name = type(value).__name__
    if not _is_model(value):
        return name
    first = next(iter(value.parameters()), None)
    if first is None:
        return name
    size = model_bytes(value)
    return f"{name} ({str(first.dtype).replace('torch.', '')}, {first.device}, {_human(size)})"


def _human(size: float) -> str:
    """Bytes in binary units (KiB, MiB, GiB), as sizes of tensors are usually read."""
    for unit in ("B", "KiB", "MiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} GiB"


__all__ = ["Components", "ConfigValues", "describe_component", "model_bytes"]
