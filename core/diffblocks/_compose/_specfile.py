"""Pipeline spec files (TOML or JSON): block structure by registered name, input defaults,
component loading specs and provenance. Loading resolves names through the registry only: a spec
file can never make diffblocks import a module path or run code."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._blocks._base import BlockOrigin, ModularPipelineBlocks
from .._blocks._multi import AutoPipelineBlocks, SequentialPipelineBlocks, _MultiBlocks
from .._blocks._plan import caller_inputs
from .._model._checks import (
    DTYPE_NAMES,
    invalid_values,
    pickle_weights_problem,
    safetensors_folder_problem,
)
from .._model._errors import CompositionError, Problem, did_you_mean
from .._plugins._registry import NAME_RE, Registry, get_registry
from ._compose import _Builder, auto_blocks, compose

SPEC_VERSION = 1
TOP_KEYS = {"diffblocks_spec", "description", "workflow", "blocks", "inputs", "components", "provenance"}
NODE_KEYS = {"type", "blocks", "triggers", "default"}
COMPONENT_KEYS = {"path", "subfolder", "dtype", "variant"}
#: Deepest nesting of tables/arrays a spec file may have (far beyond any real pipeline).
MAX_DEPTH = 64
#: Integers outside int64 are refused: nothing a pipeline takes needs them, and they overflow tensors.
INT_LIMIT = 2**63


def _format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".toml", ".json"):
        return suffix[1:]
    raise CompositionError(
        [Problem("bad-extension", "", None, f"{path.name!r}: use a .toml or .json file name")], str(path)
    )


# -- saving ---------------------------------------------------------------------------------
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
        if isinstance(where, str) and os.path.isabs(where) and _inside(os.path.realpath(where), folder):
            table["path"] = Path(os.path.relpath(os.path.realpath(where), folder)).as_posix()
    if _format(target) == "json":
        target.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    else:
        import tomli_w

        target.write_text(tomli_w.dumps(doc), encoding="utf-8")
    return target


# -- loading --------------------------------------------------------------------------------
class _HugeInt(str):
    """A JSON integer too long to convert safely; reported with its location after parsing."""


def _json_int(text: str) -> int | _HugeInt:
    # Python refuses to convert integers past 4300 digits with a bare ValueError and no location
    return _HugeInt(text) if len(text.lstrip("-")) > 19 else int(text)


def _too_deep_at(text: str) -> str | None:
    """``line L, column C`` where brackets nest deeper than MAX_DEPTH (strings skipped), else None.

    Checked before parsing: the JSON and TOML parsers recurse per level and would end in
    RecursionError on a hostile file."""
    depth, line, col, quote, escaped, comment = 0, 1, 0, "", False, False
    for ch in text:
        col += 1
        if ch == "\n":
            line, col, comment = line + 1, 0, False
        if comment:
            continue
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\" and quote == '"':
                escaped = True
            elif ch == quote:
                quote = ""
            continue
        if ch in "\"'":
            quote = ch
        elif ch == "#":
            comment = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return f"line {line}, column {col}"
        elif ch in "]}":
            depth -= 1
    return None


def _child(where: str, key: Any) -> str:
    """The dotted location of ``key`` inside ``where`` (``inputs.sizes[2]``)."""
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else str(key)


def _value_problems(data: Any) -> list[Problem]:
    """Values no pipeline input can take, with their dotted location: NaN/infinity, integers
    beyond int64, and nesting deeper than MAX_DEPTH (walked iteratively, never recursively)."""
    problems: list[Problem] = []
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, where, depth = stack.pop()
        if depth > MAX_DEPTH:
            problems.append(
                Problem("too-deep", where, None, f"nested more than {MAX_DEPTH} levels deep; flatten it")
            )
            continue
        items: Any = (
            value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        )
        for key, item in items:
            stack.append((item, _child(where, key), depth + 1))
        if isinstance(value, _HugeInt) or (
            isinstance(value, int) and not isinstance(value, bool) and not -INT_LIMIT <= value < INT_LIMIT
        ):
            shown = str(value) if len(str(value)) <= 24 else f"{str(value)[:12]}...({len(str(value))} digits)"
            problems.append(
                Problem(
                    "too-large",
                    where,
                    None,
                    f"the integer {shown} is outside the 64-bit range; use a smaller value",
                )
            )
        elif isinstance(value, float) and not math.isfinite(value):
            problems.append(
                Problem("not-finite", where, None, f"{value} is not a finite number; give a finite value")
            )
    return sorted(problems, key=lambda pr: pr.path)


def _parse(path: Path) -> dict[str, Any]:
    fmt = _format(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CompositionError(
            [Problem("unreadable", "", None, f"cannot read the file: {exc.strerror}")], str(path)
        ) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CompositionError(
            [
                Problem(
                    "encoding",
                    f"line {line}, byte {exc.start}",
                    None,
                    f"the file is not valid UTF-8 ({exc.reason}); save it as UTF-8",
                )
            ],
            str(path),
        ) from None
    deep = _too_deep_at(text)
    if deep is not None:
        raise CompositionError(
            [
                Problem(
                    "too-deep",
                    deep,
                    None,
                    f"tables/arrays nested more than {MAX_DEPTH} levels deep; flatten it",
                )
            ],
            str(path),
        )
    try:
        data = _decode(text, fmt, path)
    except RecursionError:  # a nesting the bracket scan cannot see (e.g. TOML dotted keys)
        raise CompositionError(
            [Problem("too-deep", "", None, f"nested too deeply to read; keep it under {MAX_DEPTH} levels")],
            str(path),
        ) from None
    if not isinstance(data, dict):
        raise CompositionError(
            [Problem("wrong-type", "", None, "the file must hold a table/object at the top")], str(path)
        )
    problems = _value_problems(data)
    if problems:
        raise CompositionError(problems, str(path))
    return data


def _decode(text: str, fmt: str, path: Path) -> Any:
    if fmt == "json":

        def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
            seen: dict[str, Any] = {}
            for k, v in pairs:
                if k in seen:
                    raise ValueError(f"duplicate key {k!r}")
                seen[k] = v
            return seen

        try:
            return json.loads(text, object_pairs_hook=no_duplicates, parse_int=_json_int)
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
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CompositionError(
            [Problem("syntax", "", None, f"{exc}; fix the TOML syntax there")], str(path)
        ) from exc
    except ValueError as exc:  # an integer literal too long to convert
        raise CompositionError(
            [Problem("too-large", "", None, f"{exc}; use a smaller number")], str(path)
        ) from exc


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
            seq.origin = BlockOrigin(composed=True)
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


def _inside(path: str, folder: str) -> bool:
    return os.path.commonpath([path, folder]) == folder


def _component_folder(
    comp: str, table: dict[str, Any], base: Path, root: Path, problems: list[Problem]
) -> dict[str, Any]:
    """``table`` with its path made absolute (relative paths start at ``base``, the spec file's
    folder), or a problem naming the key and path when the path is not a string, leaves ``root``
    (``base`` unless widened), runs through a symlink that leaves it, or is missing; also a dtype
    that is not a torch dtype name, a wrong subfolder or variant."""
    where = f"components.{comp}"
    out = dict(table)

    def bad(code: str, key: str, message: str) -> None:
        problems.append(Problem(code, where, key, message))

    for key in ("path", "subfolder", "variant"):
        if key in table and not isinstance(table[key], str):
            bad("wrong-type", key, f"{key} must be a string, got {type(table[key]).__name__} {table[key]!r}")
            out.pop(key)
    dtype = out.get("dtype")
    if dtype is not None and (not isinstance(dtype, str) or dtype not in DTYPE_NAMES):
        bad(
            "wrong-value",
            "dtype",
            f"dtype {dtype!r} is not a torch dtype name; use one of {', '.join(sorted(DTYPE_NAMES))}",
        )
        out.pop("dtype")
    raw = out.get("path")
    if raw is None:
        return out
    plain, real_root = os.path.abspath(root), os.path.realpath(root)
    start = os.path.abspath(base)
    folder = os.path.normpath(os.path.join(start, raw))
    key, problem = "path", _folder_problem(f"path {raw!r}", folder, plain, real_root)
    sub = out.get("subfolder")
    if problem is None and sub is not None:
        folder = os.path.normpath(os.path.join(folder, sub))
        key, problem = (
            "subfolder",
            _folder_problem(f"path {raw!r} with subfolder {sub!r}", folder, plain, real_root),
        )
    if problem is not None:
        bad(problem[0], key, problem[1])
        out.pop("path")
        return out
    out["path"] = os.path.realpath(os.path.join(start, raw))
    # the folder the weights are read from (a diffusers layout has one subfolder per component)
    if sub is None and os.path.isdir(os.path.join(folder, comp)):
        folder = os.path.join(folder, comp)
    weights = pickle_weights_problem(folder) or safetensors_folder_problem(folder)
    if weights:
        bad("bad-weights", "path", weights)
    return out


def _folder_problem(shown: str, folder: str, plain: str, real_root: str) -> tuple[str, str] | None:
    """(code, message) when ``folder`` leaves ``plain`` (the spec file's folder, or the
    ``component_root`` given to load_spec), reaches outside it through a symlink, or is not an
    existing folder; None when it is fine."""
    if not _inside(folder, plain):
        return (
            "outside-folder",
            f"{shown} leads to {folder}, outside {plain}; component paths must stay inside the spec "
            f"file's folder (move the weights below it, or pass load_spec(component_root=...))",
        )
    real = os.path.realpath(folder)
    if not _inside(real, real_root):
        return (
            "outside-folder",
            f"{shown} goes through a symlink to {real}, outside {real_root}; component paths must "
            f"stay inside the spec file's folder (copy the weights below it)",
        )
    if not os.path.isdir(real):
        what = "is not a folder" if os.path.exists(real) else "does not exist"
        return "missing-folder", f"{shown}: {folder} {what}; give a local folder in diffusers layout"
    return None


def _pipeline_problems(
    blocks: ModularPipelineBlocks, inputs: dict[str, Any], components: dict[str, Any], registry: Registry
) -> list[Problem]:
    """What ``diffblocks run`` would refuse before computing: [inputs] names no block takes,
    values that do not fit the declared type hints or ranges, and components no block uses."""
    problems: list[Problem] = []
    walked = [("", blocks), *blocks.walk()] if isinstance(blocks, _MultiBlocks) else [("", blocks)]
    accepted = caller_inputs(blocks)  # exactly what the pipeline accepts from its caller
    for name in inputs:
        if name not in accepted:
            close = did_you_mean(name, accepted)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            problems.append(
                Problem(
                    "unknown-input",
                    f"inputs.{name}",
                    name,
                    f"{name!r} is not an input of this pipeline.{hint} Accepted: {', '.join(sorted(accepted)) or '(none)'}",
                )
            )
    params = [(path, type(b).__name__, p) for path, b in walked for p in [*b.inputs, *b.intermediate_inputs]]
    for path, cls, name, why in invalid_values(params, {k: v for k, v in inputs.items() if k in accepted}):
        problems.append(
            Problem(
                "wrong-value",
                f"inputs.{name}",
                name,
                f"{why} (declared by block {path or '<root>'!r}, {cls})",
            )
        )
    known = {c.name for c in blocks.expected_components}
    family = registry.find_family(blocks.model_name) if blocks.model_name else None
    if family is not None:
        known.update(c.name for c in family.components)
    for comp in components:
        if comp not in known:
            close = did_you_mean(comp, known)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            problems.append(
                Problem(
                    "unknown-component",
                    f"components.{comp}",
                    comp,
                    f"no block of this pipeline uses a component {comp!r}.{hint} Components: {', '.join(sorted(known)) or '(none)'}; remove [components.{comp}]",
                )
            )
    return problems


def load_spec(
    path: str | os.PathLike[str],
    *,
    registry: Registry | None = None,
    validate: bool = True,
    component_root: str | os.PathLike[str] | None = None,
) -> SequentialPipelineBlocks:
    """Read a spec file back into blocks (names resolved through the registry only).

    Component paths are relative to the spec file's folder and must stay inside it (or inside
    ``component_root``, to allow a wider folder). With ``validate`` (the default), everything ``diffblocks run`` would refuse before
    computing is reported too: unknown input names, input values that do not fit the declared type
    hints, unknown components, pickle or truncated weight files.
    """
    source = Path(path)
    data = _parse(source)
    reg = registry or get_registry()
    loader = _Loader(data, reg)
    loader.check_keys(data, TOP_KEYS, "")
    version = data.get("diffblocks_spec")
    if type(version) is not int or version != SPEC_VERSION:
        loader.bad(
            "version", "diffblocks_spec", f"expected diffblocks_spec = {SPEC_VERSION}, found {version!r}"
        )
    if ("workflow" in data) == ("blocks" in data):
        loader.bad(
            "structure", "<top>", "give exactly one of 'workflow' (a registered name) or a 'blocks' table"
        )
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        loader.bad("wrong-type", "description", f"expected a string, got {type(description).__name__}")
        description = None
    inputs = data.get("inputs", {})
    if not isinstance(inputs, dict):
        loader.bad(
            "wrong-type", "inputs", f"expected a table of input name = value, got {type(inputs).__name__}"
        )
        inputs = {}
    components = data.get("components", {})
    if not isinstance(components, dict) or not all(isinstance(v, dict) for v in components.values()):
        loader.bad("wrong-type", "components", 'expected tables like [components.unet] path = "..."')
        components = {}
    base = source.parent
    root = Path(component_root) if component_root is not None else base
    resolved: dict[str, dict[str, Any]] = {}
    for comp, table in components.items():
        loader.check_keys(table, COMPONENT_KEYS, f"components.{comp}")
        resolved[comp] = _component_folder(comp, table, base, root, loader.problems)
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
    result.origin = dataclasses.replace(
        result.origin, spec_inputs=dict(inputs), spec_components=resolved, spec_description=description
    )
    if validate:
        problems = _pipeline_problems(result, inputs, resolved, reg)
        try:
            result.validate()
        except CompositionError as exc:
            exc.problems += problems
            exc.source = str(source)
            raise
        if problems:
            raise CompositionError(problems, str(source))
    return result
