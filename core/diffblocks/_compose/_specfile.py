"""Pipeline spec files (TOML or JSON): block structure by registered name, input defaults,
component loading specs and provenance. Loading resolves names through the registry only: a spec
file can never make diffblocks import a module path or run code."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._blocks._base import ModularPipelineBlocks
from .._blocks._multi import AutoPipelineBlocks, SequentialPipelineBlocks, _MultiBlocks
from .._model._errors import CompositionError, Problem
from .._plugins._registry import NAME_RE, Registry, get_registry
from ._compose import _Builder, auto_blocks, compose

SPEC_VERSION = 1
TOP_KEYS = {"diffblocks_spec", "description", "workflow", "blocks", "inputs", "components", "provenance"}
NODE_KEYS = {"type", "blocks", "triggers", "default"}
COMPONENT_KEYS = {"path", "subfolder", "dtype", "variant"}


def _format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".toml", ".json"):
        return suffix[1:]
    raise CompositionError(
        [Problem("bad-extension", "", None, f"{path.name!r}: use a .toml or .json file name")], str(path)
    )


# -- saving ---------------------------------------------------------------------------------
def _node(block: ModularPipelineBlocks, path: str, provenance: dict[str, Any], registry: Registry) -> Any:
    name = block.__dict__.get("_registered_name")
    if name:
        entry = registry.resolve(name)
        provenance[name] = {"distribution": entry.distribution, "version": entry.version or ""}
        return name
    if block.__dict__.get("_composed") and isinstance(block, _MultiBlocks):
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
    if description or blocks.__dict__.get("_spec_description"):
        doc["description"] = description or blocks.__dict__["_spec_description"]
    if blocks.__dict__.get("_registered_name"):
        doc["workflow"] = _node(blocks, "", provenance, reg)
    elif blocks.__dict__.get("_composed") and isinstance(blocks, SequentialPipelineBlocks):
        doc["blocks"] = {k: _node(v, k, provenance, reg) for k, v in blocks.sub_blocks.items()}
    else:
        doc["blocks"] = {"main": _node(blocks, "", provenance, reg)}
    merged_inputs = {**blocks.__dict__.get("_spec_inputs", {}), **(inputs or {})}
    if merged_inputs:
        doc["inputs"] = {
            k: list(v) if isinstance(v, tuple) else v for k, v in merged_inputs.items() if v is not None
        }
    merged_components = {**blocks.__dict__.get("_spec_components", {}), **(components or {})}
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
    """Write ``blocks`` as a spec file; TOML or JSON by the file's extension."""
    target = Path(path)
    doc = spec_dict(blocks, **kwargs)
    if _format(target) == "json":
        target.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    else:
        import tomli_w

        target.write_text(tomli_w.dumps(doc), encoding="utf-8")
    return target


# -- loading --------------------------------------------------------------------------------
def _parse(path: Path) -> dict[str, Any]:
    fmt = _format(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CompositionError(
            [Problem("unreadable", "", None, f"cannot read the file: {exc.strerror}")], str(path)
        ) from exc
    if fmt == "json":

        def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
            seen: dict[str, Any] = {}
            for k, v in pairs:
                if k in seen:
                    raise ValueError(f"duplicate key {k!r}")
                seen[k] = v
            return seen

        try:
            data = json.loads(text, object_pairs_hook=no_duplicates)
        except json.JSONDecodeError as exc:
            raise CompositionError(
                [
                    Problem(
                        "syntax",
                        f"line {exc.lineno}, column {exc.colno}",
                        None,
                        f"{exc.msg}; fix the JSON syntax there",
                    )
                ],
                str(path),
            ) from exc
        except ValueError as exc:
            raise CompositionError(
                [Problem("duplicate-key", "", None, f"{exc}; each key may appear once")], str(path)
            ) from exc
    else:
        try:
            import tomllib
        except ImportError:  # Python 3.10
            import tomli as tomllib  # type: ignore[no-redef]
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise CompositionError(
                [Problem("syntax", "", None, f"{exc}; fix the TOML syntax there")], str(path)
            ) from exc
    if not isinstance(data, dict):
        raise CompositionError(
            [Problem("wrong-type", "", None, "the file must hold a table/object at the top")], str(path)
        )
    return data


class _Loader:
    def __init__(self, data: dict[str, Any], registry: Registry) -> None:
        self.data, self.registry = data, registry
        self.builder = _Builder(registry)
        self.problems = self.builder.problems
        provenance = data.get("provenance")
        self.provenance: dict[str, Any] = provenance if isinstance(provenance, dict) else {}

    def bad(self, code: str, where: str, message: str, param: str | None = None) -> None:
        self.problems.append(Problem(code, where, param, message))

    def check_keys(self, table: dict[str, Any], allowed: set[str], where: str) -> None:
        for key in table:
            if key not in allowed:
                self.bad(
                    "unknown-key",
                    where or "<top>",
                    f"unknown key {key!r}; allowed here: {', '.join(sorted(allowed))}",
                    key,
                )

    def name(self, value: str, where: str) -> ModularPipelineBlocks | None:
        if not NAME_RE.match(value):
            self.bad(
                "not-a-name",
                where,
                f"{value!r} is not a registered block name ('namespace.name'); spec files "
                f"refer to blocks by registered name only, never by import path",
                value,
            )
            return None
        before = len(self.problems)
        block = self.builder.block(value, where)
        if block is None and len(self.problems) > before:
            prov = self.provenance.get(value)
            if isinstance(prov, dict) and prov.get("distribution"):
                self.problems[-1].message += (
                    f" The file says it came from {prov['distribution']} {prov.get('version', '')}".rstrip()
                    + "; install that distribution."
                )
        return block

    def node(self, value: Any, where: str) -> ModularPipelineBlocks | None:
        if isinstance(value, str):
            return self.name(value, where)
        if not isinstance(value, dict):
            self.bad("wrong-type", where, f"expected a block name or a table, got {type(value).__name__}")
            return None
        self.check_keys(value, NODE_KEYS, where)
        kind = value.get("type", "sequential")
        subs = value.get("blocks")
        if not isinstance(subs, dict) or not subs:
            self.bad("wrong-type", f"{where}.blocks", "expected a non-empty table of sub-blocks")
            return None
        built = {k: self.node(v, f"{where}.{k}") for k, v in subs.items()}
        if any(b is None for b in built.values()):
            return None
        blocks = {k: b for k, b in built.items() if b is not None}
        if kind == "sequential":
            seq = SequentialPipelineBlocks.from_blocks_dict(blocks)
            seq.__dict__["_composed"] = True
            return seq
        if kind == "auto":
            triggers = value.get("triggers", {})
            default = value.get("default")
            if not isinstance(triggers, dict) or not all(isinstance(t, str) for t in triggers.values()):
                self.bad(
                    "wrong-type", f"{where}.triggers", 'expected a table of branch name = "trigger input"'
                )
                return None
            listed: list[str | None] = []
            for i, key in enumerate(blocks):
                if key == default:
                    if i != len(blocks) - 1:
                        self.bad(
                            "bad-default",
                            f"{where}.default",
                            f"default branch {key!r} must be the last sub-block",
                        )
                    listed.append(None)
                elif key in triggers:
                    listed.append(triggers[key])
                else:
                    self.bad(
                        "missing-trigger",
                        f"{where}.{key}",
                        f"branch {key!r} has no trigger; add it to triggers or make it the default",
                    )
            unknown = set(triggers) - set(blocks)
            if unknown:
                self.bad(
                    "unknown-key",
                    f"{where}.triggers",
                    f"triggers name branches that do not exist: {sorted(unknown)}",
                )
            if len(listed) != len(blocks) or unknown:
                return None
            return auto_blocks(blocks, listed)
        self.bad("wrong-value", f"{where}.type", f"type must be 'sequential' or 'auto', not {kind!r}")
        return None


def load_spec(
    path: str | os.PathLike[str], *, registry: Registry | None = None, validate: bool = True
) -> SequentialPipelineBlocks:
    """Read a spec file back into blocks (names resolved through the registry only)."""
    source = Path(path)
    data = _parse(source)
    loader = _Loader(data, registry or get_registry())
    loader.check_keys(data, TOP_KEYS, "")
    version = data.get("diffblocks_spec")
    if version != SPEC_VERSION:
        loader.bad(
            "version", "diffblocks_spec", f"expected diffblocks_spec = {SPEC_VERSION}, found {version!r}"
        )
    if ("workflow" in data) == ("blocks" in data):
        loader.bad(
            "structure", "<top>", "give exactly one of 'workflow' (a registered name) or a 'blocks' table"
        )
    inputs = data.get("inputs", {})
    if not isinstance(inputs, dict):
        loader.bad("wrong-type", "inputs", "expected a table of input name = value")
        inputs = {}
    components = data.get("components", {})
    if not isinstance(components, dict) or not all(isinstance(v, dict) for v in components.values()):
        loader.bad("wrong-type", "components", 'expected tables like [components.unet] path = "..."')
        components = {}
    for comp, table in components.items():
        loader.check_keys(table, COMPONENT_KEYS, f"components.{comp}")
    result: ModularPipelineBlocks | None = None
    if "workflow" in data and isinstance(data["workflow"], str):
        result = loader.name(data["workflow"], "workflow")
    elif "workflow" in data:
        loader.bad("wrong-type", "workflow", "expected a registered block name (a string)")
    elif isinstance(data.get("blocks"), dict) and data["blocks"]:
        built = {k: loader.node(v, f"blocks.{k}") for k, v in data["blocks"].items()}
        if not loader.problems:
            result = compose({k: b for k, b in built.items()}, registry=loader.registry, validate=False)
    elif "blocks" in data:
        loader.bad("wrong-type", "blocks", 'expected a non-empty table of key = "namespace.name"')
    if loader.problems or result is None:
        raise CompositionError(loader.problems, str(source))
    if not isinstance(result, SequentialPipelineBlocks):
        result = compose(result, registry=loader.registry, validate=False)
    result.__dict__["_spec_inputs"] = dict(inputs)
    result.__dict__["_spec_components"] = {k: dict(v) for k, v in components.items()}
    if data.get("description"):
        result.__dict__["_spec_description"] = data["description"]
    if validate:
        try:
            result.validate()
        except CompositionError as exc:
            exc.source = str(source)
            raise
    return result
