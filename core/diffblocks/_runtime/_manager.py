"""ComponentsManager: one place holding loaded components, shared by several pipelines."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


class ComponentsManager:
    """Holds components by name so pipelines can share them (one UNet in memory for two
    pipelines), counts their memory once, and moves them between devices together.

    Pass it as ``init_pipeline(components_manager=manager)``: components given to that pipeline are
    added here, and components already here fill that pipeline's empty slots of the same name.
    """

    def __init__(self) -> None:
        self._components: dict[str, Any] = {}

    def add(self, name: str, component: Any) -> str:
        """Add (or replace) ``name``; returns the name."""
        self._components[name] = component
        return name

    def get(self, name: str) -> Any:
        try:
            return self._components[name]
        except KeyError:
            raise KeyError(
                f"no component {name!r} in this manager; it holds: {', '.join(self._components) or '(none)'}"
            ) from None

    def remove(self, name: str) -> None:
        self._components.pop(name, None)

    def __contains__(self, name: str) -> bool:
        return name in self._components

    def __iter__(self) -> Iterator[str]:
        return iter(self._components)

    def memory_bytes(self) -> int:
        """Bytes of parameters and buffers of all components, each tensor storage counted once."""
        seen: set[tuple[str, int]] = set()
        total = 0
        for component in self._components.values():
            tensors = []
            if hasattr(component, "parameters"):
                tensors += list(component.parameters())
            if hasattr(component, "buffers"):
                tensors += list(component.buffers())
            for t in tensors:
                storage = t.untyped_storage()
                key = (str(t.device), storage.data_ptr())
                if key not in seen:
                    seen.add(key)
                    total += storage.nbytes()
        return total

    def to(self, device: Any, names: list[str] | None = None) -> None:
        """Move the named (default: all) model components to ``device``, in place."""
        for name in names or list(self._components):
            component = self._components[name]
            if hasattr(component, "to") and hasattr(component, "parameters"):
                component.to(device)

    def __repr__(self) -> str:
        rows = [f"  {n}: {type(c).__name__}" for n, c in self._components.items()]
        return "ComponentsManager(\n" + "\n".join(rows) + "\n)" if rows else "ComponentsManager()"
