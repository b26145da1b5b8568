"""ComponentsManager: one place holding loaded components, shared by pipelines, with auto offload."""

from __future__ import annotations

import gc
import time
import warnings
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Any

from ._components import _is_model, model_bytes
from ._offload import AutoOffload

INFO_FIELDS = (
    "model_id",
    "added_time",
    "collection",
    "class_name",
    "size_gb",
    "adapters",
    "has_hook",
    "execution_device",
    "device",
    "dtype",
    "streamed_gb",
)


class ComponentsManager:
    """Holds components under ids (``"unet_140213..."``) so pipelines can share them, count their
    memory once, find them by name, pattern or collection, and offload models automatically.

    ``ModularPipeline(blocks, components_manager=manager, collection="sd")`` (or
    ``init_pipeline(components_manager=...)``) adds what the pipeline loads or is given here, and
    fills the pipeline's empty components from components of the same name already here.
    """

    def __init__(self) -> None:
        #: component id -> component, in the order added
        self.components: OrderedDict[str, Any] = OrderedDict()
        self.added_time: dict[str, float] = {}
        #: collection name -> component ids
        self.collections: OrderedDict[str, set[str]] = OrderedDict()
        self._offload: AutoOffload | None = None

    # -- adding and removing --------------------------------------------------------------
    @staticmethod
    def _name_of(component_id: str) -> str:
        return component_id.rpartition("_")[0]

    def id_of(self, component: Any) -> str | None:
        """The id under which this very object is held, or None."""
        return next((cid for cid, c in self.components.items() if c is component), None)

    def add(self, name: str, component: Any, collection: str | None = None) -> str:
        """Hold ``component`` as ``name``; returns its id ``name_<id>``.

        Adding the same object under the same name again returns the existing id (with a warning).
        In a ``collection``, a component of the same name replaces the previous one there.
        """
        component_id = f"{name}_{id(component)}"
        existing = [cid for cid, c in self.components.items() if c is component]
        same_name = [cid for cid in existing if self._name_of(cid) == name]
        if same_name:
            component_id = same_name[0]
            warnings.warn(
                f"ComponentsManager: {name!r} is already held as {component_id!r}; not added again",
                stacklevel=2,
            )
        elif existing:
            warnings.warn(
                f"ComponentsManager: {name!r} is the same object as {existing[0]!r}; holding it under "
                f"both ids (remove one with manager.remove(id))",
                stacklevel=2,
            )
        is_new = component_id not in self.components
        self.components[component_id] = component
        if is_new:
            self.added_time[component_id] = time.time()
        if collection:
            members = self.collections.setdefault(collection, set())
            if component_id not in members:
                for old in [cid for cid in members if self._name_of(cid) == name]:
                    self.remove_from_collection(old, collection)
                members.add(component_id)
        if is_new and self._offload is not None and _is_model(component):
            self._offload.add(component_id, component)
        return component_id

    def remove_from_collection(self, component_id: str, collection: str) -> None:
        """Take a component out of a collection; it leaves the manager when no collection holds it."""
        if collection not in self.collections:
            known = ", ".join(self.collections) or "(none)"
            raise KeyError(f"no collection {collection!r} in this manager; it has: {known}")
        self.collections[collection].discard(component_id)
        if not any(component_id in ids for ids in self.collections.values()):
            self.remove(component_id)

    def remove(self, component_id: str) -> None:
        """Remove a component by id (or by name, when exactly one component has that name)."""
        component_id = self._resolve(component_id)
        component = self.components.pop(component_id)
        self.added_time.pop(component_id, None)
        for ids in self.collections.values():
            ids.discard(component_id)
        if self._offload is not None and component is not None:
            self._offload.remove(component)
        del component
        gc.collect()

    def _resolve(self, key: str) -> str:
        if key in self.components:
            return key
        ids = self._lookup_ids(name=key)
        if len(ids) == 1:
            return ids[0]
        held = ", ".join(self.components) or "(none)"
        if ids:
            raise KeyError(f"several components are named {key!r} ({', '.join(ids)}); give an id")
        raise KeyError(f"no component {key!r} in this manager; it holds: {held}")

    # -- finding ------------------------------------------------------------------------------
    def _lookup_ids(
        self, name: str | None = None, collection: str | None = None, load_id: str | None = None
    ) -> list[str]:
        if collection is not None and collection not in self.collections:
            return []
        return [
            cid
            for cid, comp in self.components.items()
            if (name is None or self._name_of(cid) == name)
            and (collection is None or cid in self.collections[collection])
            and (load_id is None or getattr(comp, "_diffusers_load_id", None) == load_id)
        ]

    def get(self, name_or_id: str) -> Any:
        """The component with this id, or the one component with this name."""
        return self.components[self._resolve(name_or_id)]

    def get_one(
        self,
        component_id: str | None = None,
        name: str | None = None,
        collection: str | None = None,
        load_id: str | None = None,
    ) -> Any:
        """Exactly one component: by id, or by name pattern / collection / load id."""
        if component_id is not None:
            if name is not None or collection is not None or load_id is not None:
                raise ValueError("get_one: give component_id alone, or name/collection/load_id")
            return self.components[self._resolve(component_id)]
        found = self.search_components(name, collection, load_id, return_dict_with_names=False)
        if len(found) != 1:
            raise ValueError(
                f"get_one(name={name!r}, collection={collection!r}) matched {len(found)} components"
                f"{': ' + ', '.join(found) if found else ''}; narrow it with collection= or an id"
            )
        return next(iter(found.values()))

    def get_ids(self, names: str | Iterable[str] | None = None, collection: str | None = None) -> list[str]:
        """Ids of the components with these exact names (optionally in one collection)."""
        if names is None or isinstance(names, str):
            names = [names] if names is not None else [None]  # type: ignore[list-item]
        ids: list[str] = []
        for name in names:
            ids += [cid for cid in self._lookup_ids(name=name, collection=collection) if cid not in ids]
        return ids

    def get_components_by_ids(
        self, ids: Iterable[str], return_dict_with_names: bool = True
    ) -> dict[str, Any]:
        """Components by id; keyed by name (an error if two share one) or by id."""
        found = {cid: self.components[self._resolve(cid)] for cid in ids}
        return self._keyed(found, return_dict_with_names)

    def get_components_by_names(self, names: Iterable[str], collection: str | None = None) -> dict[str, Any]:
        """Components by exact name, keyed by name: ready for ``pipe.update_components(**...)``."""
        return self.get_components_by_ids(self.get_ids(list(names), collection))

    def _keyed(self, found: dict[str, Any], by_name: bool) -> dict[str, Any]:
        if not by_name:
            return found
        out: dict[str, Any] = {}
        for cid, comp in found.items():
            name = self._name_of(cid)
            if name in out:
                raise ValueError(
                    f"two components are named {name!r}; pass return_dict_with_names=False to key by id"
                )
            out[name] = comp
        return out

    def search_components(
        self,
        names: str | None = None,
        collection: str | None = None,
        load_id: str | None = None,
        return_dict_with_names: bool = True,
    ) -> dict[str, Any]:
        """Components whose name matches ``names``: ``"unet"`` (exact, else substring),
        ``"unet*"`` (prefix), ``"*unet*"`` (contains), ``"unet|vae"`` (any of), and a leading
        ``"!"`` negates the whole pattern. Filtered by collection and load id."""
        pool = {cid: self.components[cid] for cid in self._lookup_ids(collection=collection, load_id=load_id)}
        if names is None:
            return self._keyed(pool, return_dict_with_names)
        if not isinstance(names, str):
            raise TypeError(f"names must be a pattern string, not {type(names).__name__}")
        negate = names.startswith("!")
        pattern = names[1:] if negate else names
        terms = pattern.split("|")
        base = {cid: self._name_of(cid) for cid in pool}
        known = set(base.values())
        if len(terms) == 1 and "*" not in pattern and pattern not in known:
            if not any(pattern in n for n in known):
                raise ValueError(
                    f"no component matches {names!r}; held names: {', '.join(sorted(known)) or '(none)'}"
                )
            terms = [f"*{pattern}*"]  # a part of a name: substring match
        found = {cid: c for cid, c in pool.items() if _matches(base[cid], terms) != negate}
        if not found:
            raise ValueError(f"no component matches {names!r}")
        return self._keyed(found, return_dict_with_names)

    def __contains__(self, key: object) -> bool:
        return key in self.components or (isinstance(key, str) and bool(self._lookup_ids(name=key)))

    def __iter__(self) -> Iterator[str]:
        return iter(self.components)

    def __len__(self) -> int:
        return len(self.components)

    # -- memory and devices -------------------------------------------------------------------
    def memory_bytes(self) -> int:
        """Bytes of parameters and buffers of all components, each tensor storage counted once."""
        seen: set[tuple[str, int]] = set()
        total = 0
        for component in self.components.values():
            if not _is_model(component):
                continue
            for t in [*component.parameters(), *component.buffers()]:
                storage = t.untyped_storage()
                key = (str(t.device), storage.data_ptr())
                if key not in seen:
                    seen.add(key)
                    total += storage.nbytes()
        return total

    def to(self, device: Any, names: list[str] | None = None) -> None:
        """Move the named (default: all) model components to ``device``, in place."""
        if self._offload is not None:
            raise RuntimeError(
                "auto CPU offload is on and decides where models live; call disable_auto_cpu_offload() first"
            )
        for key in names or list(self.components):
            component = self.components[self._resolve(key)]
            if _is_model(component):
                component.to(device)

    def enable_auto_cpu_offload(
        self,
        device: Any = None,
        memory_reserve_margin: int | str = "3GB",
        memory_budget: int | str | None = None,
        stream_large_models: bool = True,
    ) -> None:
        """Keep models on the CPU; move each to ``device`` (default: the GPU if there is one, else
        the CPU) when a block uses it.

        When the incoming model does not fit, the least recently used models on the device move
        back to the CPU first. It fits when ``memory_budget`` (bytes of models on the device at
        once, e.g. ``"8GB"``) allows, or, without a budget, when the device's free memory less
        ``memory_reserve_margin`` (kept for activations) does. A model larger than all of that
        room is streamed (``stream_large_models``): part of it stays, the rest moves in a group of
        modules at a time as its forward runs. Models added later join in.
        """
        self.disable_auto_cpu_offload()
        offload = AutoOffload(device, memory_reserve_margin, memory_budget, stream_large_models)
        for cid, component in self.components.items():
            if _is_model(component):
                offload.add(cid, component)
        self._offload = offload

    def disable_auto_cpu_offload(self) -> None:
        """Stop offloading; every model is left on the CPU."""
        if self._offload is not None:
            self._offload.close()
            self._offload = None

    @property
    def auto_offload(self) -> AutoOffload | None:
        """The active offload (its ``device``, ``loads``, ``evictions``, ``resident_ids()``), or None."""
        return self._offload

    @property
    def execution_device(self) -> Any:
        """The auto offload device, or None when offload is off."""
        return self._offload.device if self._offload is not None else None

    def use(self, component: Any) -> Any:
        """What a pipeline calls when a block takes ``component``: with auto offload on, a model
        is moved to the execution device (making room first). Returns the component."""
        if self._offload is not None:
            self._offload.use(component)
        return component

    # -- information --------------------------------------------------------------------------
    def get_model_info(self, component_id: str, fields: str | list[str] | None = None) -> dict[str, Any]:
        """Facts about one component: class, collection, and for models size, dtype, device,
        adapters and offload state. ``fields`` picks some of them."""
        component_id = self._resolve(component_id)
        component = self.components[component_id]
        wanted = [fields] if isinstance(fields, str) else fields
        for f in wanted or []:
            if f not in INFO_FIELDS:
                raise ValueError(f"unknown field {f!r}; known: {', '.join(INFO_FIELDS)}")
        info: dict[str, Any] = {
            "model_id": component_id,
            "added_time": self.added_time.get(component_id),
            "collection": ", ".join(c for c, ids in self.collections.items() if component_id in ids) or None,
            "class_name": type(component).__name__,
        }
        if _is_model(component):
            first = next(iter(component.parameters()), None)
            peft = getattr(component, "peft_config", None)
            managed = self._offload is not None and self._offload.manages(component)
            streamed = self._offload.streamed_footprint(component) if self._offload is not None else None
            info.update(
                {
                    "size_gb": model_bytes(component) / 1024**3,
                    "adapters": list(peft) if peft else None,
                    "has_hook": managed,
                    "execution_device": self._offload.device if managed and self._offload else None,
                    "device": first.device if first is not None else None,
                    "dtype": first.dtype if first is not None else None,
                    # streamed by auto offload: the most it takes on the device at once
                    "streamed_gb": streamed / 1024**3 if streamed else None,
                }
            )
        if wanted is not None:
            return {k: v for k, v in info.items() if k in wanted}
        return info

    def __repr__(self) -> str:
        if not self.components:
            return "ComponentsManager: no components"
        idw = max(12, *(len(cid) for cid in self.components))
        clw = max(12, *(len(type(c).__name__) for c in self.components.values()))
        head = f"{'id':<{idw}} | {'class':<{clw}} | {'device':<14} | {'dtype':<9} | {'size (GiB)':>10} | collection"
        lines = ["ComponentsManager:", head, "-" * len(head)]
        for cid, comp in self.components.items():
            info = self.get_model_info(cid)
            colls = info["collection"] or "-"
            if _is_model(comp):
                device = str(info["device"])
                if info["has_hook"]:
                    device += f" ({info['execution_device']})"
                dtype = str(info["dtype"]).replace("torch.", "")
                size = f"{info['size_gb']:.3f}"
            else:
                device, dtype, size = "-", "-", "-"
            lines.append(
                f"{cid:<{idw}} | {info['class_name']:<{clw}} | {device:<14} | {dtype:<9} | {size:>10} | {colls}"
            )
            if info.get("adapters"):
                lines.append(f"{'':<{idw}}   adapters: {', '.join(info['adapters'])}")
        if self._offload is not None:
            lines.append(f"auto CPU offload to {self._offload.device}")
        return "\n".join(lines)


def _matches(name: str, terms: list[str]) -> bool:
    for term in terms:
        if term.startswith("*"):  # "*unet*" and "*unet": contains
            hit = term.strip("*") in name
        elif term.endswith("*"):
            hit = name.startswith(term[:-1])
        else:
            hit = name == term
        if hit:
            return True
    return False


__all__ = ["ComponentsManager"]
