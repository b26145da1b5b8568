"""Loading and saving components: plugin loaders, diffusers-layout folders and their index files.

A saved pipeline folder is diffusers 0.42's: ``modular_model_index.json`` lists each pretrained
component as ``[library, class, {type_hint, pretrained_model_name_or_path, subfolder, variant,
revision}]`` and each config value as a plain key; every component has its own subfolder with
safetensors weights. Folders with only a classic ``model_index.json`` (``{name: [library,
class]}``) load too.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable, Mapping
from typing import Any

from .._model._imports import import_target
from .._model._params import ComponentLoadError, ComponentSpec
from .._model._version import __version__

MODULAR_INDEX = "modular_model_index.json"
CLASSIC_INDEX = "model_index.json"


def load_component(
    spec: ComponentSpec, path: Any, loaders: Mapping[str, Callable[..., Any]], **opts: Any
) -> Any:
    """One component: through a plugin's loader for its type if there is one, else with the
    spec's ``load`` (``from_pretrained``; model weights only ever from safetensors)."""
    loader = loaders.get(spec.type_name) if spec.type_name else None
    if loader is not None:
        from .._model._weights import weights_refusal  # plugin loaders get no pickle weights either

        where = path if path is not None else spec.pretrained_model_name_or_path
        refusal = weights_refusal(where, opts.get("subfolder", spec.subfolder), opts) if where else None
        if refusal:
            raise ComponentLoadError(f"component {spec.name!r}: {refusal}")
        return loader(spec, path, **opts)
    return spec.load(path, **opts)


def is_model_class(cls: Any) -> bool:
    """Whether a type hint (class or ``"module:Class"``) names a torch model."""
    if isinstance(cls, str) and ":" in cls:
        try:
            cls = import_target(cls)
        except (ImportError, AttributeError):
            return False
    return isinstance(cls, type) and hasattr(cls, "parameters") and hasattr(cls, "to")


def read_index(folder: str | os.PathLike[str]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(modular index, classic index) of a folder; the classic one only when there is no modular one."""
    for index, slot in ((MODULAR_INDEX, 0), (CLASSIC_INDEX, 1)):
        file = os.path.join(folder, index)
        if os.path.isfile(file):
            with open(file, encoding="utf-8") as fh:
                data = json.load(fh)
            return (data, None) if slot == 0 else (None, data)
    return None, None


def index_component_names(folder: str | os.PathLike[str]) -> list[str] | None:
    """Names of the components a folder's index lists (None without an index)."""
    modular, classic = read_index(folder)
    data = modular if modular is not None else classic
    if data is None:
        return None
    return [k for k, v in data.items() if not k.startswith("_") and isinstance(v, list)]


def specs_from_index(
    folder: str | os.PathLike[str], specs: Mapping[str, ComponentSpec]
) -> tuple[dict[str, ComponentSpec], dict[str, Any]]:
    """The component specs and config values a folder's index gives for these components.

    A recorded location that is not on this machine but whose subfolder is in ``folder`` (a
    copied or downloaded folder keeps its original index) points at ``folder`` instead.
    """
    modular, classic = read_index(folder)
    if modular is None and classic is None:
        raise ComponentLoadError(
            f"{os.fspath(folder)!r} has neither {MODULAR_INDEX} nor {CLASSIC_INDEX}; "
            f"is it a pipeline folder saved by diffusers or diffblocks?"
        )
    found: dict[str, ComponentSpec] = {}
    configs: dict[str, Any] = {}
    for name, value in (modular or classic or {}).items():
        if name.startswith("_"):
            continue
        if not isinstance(value, list) or name not in specs:
            if not isinstance(value, list):
                configs[name] = value
            continue
        declared = specs[name]
        if modular is not None and len(value) == 3 and isinstance(value[2], dict):
            entry = dict(value[2])
            where = entry.get("pretrained_model_name_or_path")
            sub = entry.get("subfolder") or None
            if where is None or not os.path.isdir(os.path.join(where, sub or "")):
                if os.path.isdir(os.path.join(folder, sub or name)):
                    where, sub = os.fspath(folder), sub or name
        else:
            entry, where, sub = {}, os.fspath(folder), name
        hint = resolve_class(value[0], value[1]) or declared.type_hint
        found[name] = ComponentSpec(
            name,
            hint,
            declared.description,
            declared.config,
            pretrained_model_name_or_path=where,
            subfolder=sub,
            variant=entry.get("variant"),
            revision=entry.get("revision"),
            default_creation_method="from_pretrained",
        )
    return found, configs


def resolve_class(library: Any, class_name: Any) -> Any:
    """``("diffusers", "UNet2DConditionModel")`` -> the class, or None if it cannot be imported."""
    if not isinstance(library, str) or not isinstance(class_name, str):
        return None
    try:
        return getattr(importlib.import_module(library), class_name, None)
    except ImportError:
        return None


def class_library(obj_or_cls: Any) -> tuple[str, str]:
    """(library, class name) as diffusers writes them: the package for diffusers/transformers
    classes, the full module for any other."""
    cls = obj_or_cls if isinstance(obj_or_cls, type) else type(obj_or_cls)
    module = cls.__module__
    top = module.split(".")[0]
    return (top if top in ("diffusers", "transformers") else module), cls.__name__


def save_folder(
    folder: str | os.PathLike[str],
    components: Mapping[str, Any],
    specs: Mapping[str, ComponentSpec],
    configs: Mapping[str, Any],
    blocks_class_name: str,
    blocks_name: str | None = None,
    variant: str | None = None,
    max_shard_size: int | str | None = None,
) -> dict[str, Any]:
    """Write each pretrained component (safetensors weights) and ``modular_model_index.json``.

    Components created from config (schedulers, guiders declared ``from_config``) are not written,
    as in diffusers: the blocks recreate them. Returns the index written.
    """
    import inspect

    os.makedirs(folder, exist_ok=True)
    index: dict[str, Any] = {
        "_class_name": "ModularPipeline",
        "_diffusers_version": _diffusers_version(),
        "_diffblocks_version": __version__,
        "_blocks_class_name": blocks_class_name,
    }
    if blocks_name is not None:
        index["_diffblocks_blocks"] = blocks_name  # the registered name, for from_pretrained's hint
    for name, spec in specs.items():
        if spec.default_creation_method != "from_pretrained":
            continue
        component = components.get(name)
        hint = class_library(component) if component is not None else _hint_tuple(spec.type_hint)
        entry: dict[str, Any] = {
            "pretrained_model_name_or_path": _fs(spec.pretrained_model_name_or_path),
            "revision": spec.revision,
            "subfolder": spec.subfolder or "",
            "type_hint": list(hint) if hint else [None, None],
            "variant": spec.variant,
        }
        if component is not None:
            save = getattr(component, "save_pretrained", None)
            if save is None:
                raise ComponentLoadError(
                    f"save_pretrained: component {name!r} ({type(component).__name__}) has no "
                    f"save_pretrained(); give it one or declare it default_creation_method='from_config'"
                )
            params = inspect.signature(save).parameters
            kwargs: dict[str, Any] = {}
            if "safe_serialization" in params:
                kwargs["safe_serialization"] = True
            if "variant" in params and variant is not None:
                kwargs["variant"] = variant
            if "max_shard_size" in params and max_shard_size is not None:
                kwargs["max_shard_size"] = max_shard_size
            save(os.path.join(folder, name), **kwargs)
            entry.update(
                pretrained_model_name_or_path=os.fspath(folder),
                subfolder=name,
                variant=variant if "variant" in params else None,
                revision=None,
            )
        index[name] = [*(hint or (None, None)), entry]
    for name, value in configs.items():
        index[name] = value
    with open(os.path.join(folder, MODULAR_INDEX), "w", encoding="utf-8") as fh:
        json.dump(index, fh, indent=2, sort_keys=True, default=_json_default)
        fh.write("\n")
    return index


def _hint_tuple(hint: Any) -> tuple[str, str] | None:
    if isinstance(hint, type):
        return class_library(hint)
    if isinstance(hint, str) and ":" in hint:
        module, _, name = hint.partition(":")
        top = module.split(".")[0]
        return (top if top in ("diffusers", "transformers") else module), name
    if isinstance(hint, (tuple, list)) and len(hint) == 2:
        return str(hint[0]), str(hint[1])
    return None


def _fs(path: Any) -> str | None:
    return os.fspath(path) if path is not None else None


def _json_default(value: Any) -> Any:
    raise TypeError(
        f"save_pretrained: config value {value!r} ({type(value).__name__}) cannot be written to "
        f"{MODULAR_INDEX}; configs must be JSON values (numbers, strings, lists, dicts)"
    )


def _diffusers_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("diffusers")
    except Exception:  # diffusers is optional: the index is still readable without the field
        return None


__all__ = [
    "CLASSIC_INDEX",
    "MODULAR_INDEX",
    "class_library",
    "index_component_names",
    "is_model_class",
    "load_component",
    "read_index",
    "resolve_class",
    "save_folder",
    "specs_from_index",
]
