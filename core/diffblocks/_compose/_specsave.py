"""Writing blocks as a spec file: registered names and composed sequences/auto blocks, input
defaults, component tables and the provenance of every name."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._blocks._base import ModularPipelineBlocks
from .._blocks._conditional import AutoPipelineBlocks
from .._blocks._multi import SequentialPipelineBlocks, _MultiBlocks
from .._model._errors import CompositionError, Problem
from .._plugins._registry import Registry, get_registry
from ._specread import SPEC_VERSION, inside, spec_format


def _node(block: ModularPipelineBlocks, path: str, provenance: dict[str, Any], registry: Registry) -> Any:
    name = block.origin.registered_name
    if name:
        entry = registry.resolve(name)
        provenance[name] = {"distribution": entry.distribution, "version": entry.version or ""}
        return name
    if block.origin.composed and isinstance(block, _MultiBlocks):
        subs = {
            k: _node(v, f"{path}.{k}" if path else k, provenance, registry)
            for k, v in block.sub_blocks.items()
        }
        if isinstance(block, AutoPipelineBlocks):
            keys = list(subs)
            triggers = {k: t for k, t in zip(keys, block.block_trigger_inputs) if t is not None}
            node: dict[str, Any] = {"type": "auto", "blocks": subs, "triggers": triggers}
            if block.block_trigger_inputs and block.block_trigger_inputs[-1] is None:
                node["default"] = keys[-1]
            return node
        return {"type": "sequential", "blocks": subs}
    raise CompositionError(
        [
            Problem(
                "not-registered",
                path,
                None,
                f"{type(block).__name__} was not created from a registered name, so a spec file cannot refer to it; "
                f"register it (registry.register('ns.name', ...)) and compose by name",
            )
        ]
    )


def spec_dict(
    blocks: ModularPipelineBlocks,
    *,
    inputs: Mapping[str, Any] | None = None,
    components: Mapping[str, Mapping[str, Any]] | None = None,
    description: str | None = None,
    registry: Registry | None = None,
) -> dict[str, Any]:
    """The declarative form of ``blocks`` (what :func:`save_spec` writes)."""
    reg = registry or get_registry()
    provenance: dict[str, Any] = {}
    doc: dict[str, Any] = {"diffblocks_spec": SPEC_VERSION}
    origin = blocks.origin
    if description or origin.spec_description:
        doc["description"] = description or origin.spec_description
    if origin.registered_name:
        doc["workflow"] = _node(blocks, "", provenance, reg)
    elif origin.composed and isinstance(blocks, SequentialPipelineBlocks):
        doc["blocks"] = {k: _node(v, k, provenance, reg) for k, v in blocks.sub_blocks.items()}
    else:
        doc["blocks"] = {"main": _node(blocks, "", provenance, reg)}
    merged_inputs = {**origin.spec_inputs, **(inputs or {})}
    if merged_inputs:
        doc["inputs"] = {
            k: list(v) if isinstance(v, tuple) else v for k, v in merged_inputs.items() if v is not None
        }
    merged_components = {**origin.spec_components, **(components or {})}
    if merged_components:
        doc["components"] = {
            k: {
                kk: os.fspath(vv) if isinstance(vv, os.PathLike) else vv
                for kk, vv in v.items()
                if vv is not None
            }
            for k, v in merged_components.items()
        }
    doc["provenance"] = provenance
    return doc


def save_spec(blocks: ModularPipelineBlocks, path: str | os.PathLike[str], **kwargs: Any) -> Path:
    """Write ``blocks`` as a spec file; TOML or JSON by the file's extension.

    Component paths inside the file's folder are written relative to it (how loading reads
    them), so the folder can move as a whole."""
    target = Path(path)
    doc = spec_dict(blocks, **kwargs)
    folder = os.path.realpath(target.parent)
    for table in doc.get("components", {}).values():
        where = table.get("path")
        if isinstance(where, str) and os.path.isabs(where) and inside(os.path.realpath(where), folder):
            table["path"] = Path(os.path.relpath(os.path.realpath(where), folder)).as_posix()
    if spec_format(target) == "json":
        target.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    else:
        import tomli_w

        target.write_text(tomli_w.dumps(doc), encoding="utf-8")
    return target
