"""Loading pipeline spec files (TOML or JSON): block structure by registered name, input defaults,
component loading specs and provenance. Names resolve through the registry only: a spec file can
never make diffblocks import a module path or run code. (Parsing is in ``_specread``, writing in
``_specsave``; ``save_spec``/``spec_dict`` are re-exported here for the front ends.)"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from .._blocks._base import BlockOrigin, ModularPipelineBlocks
from .._blocks._multi import SequentialPipelineBlocks, _MultiBlocks
from .._blocks._plan import caller_inputs
from .._model._checks import invalid_values
from .._model._errors import CompositionError, Problem, suggest
from .._model._weights import DTYPE_NAMES, pickle_weights_problem, safetensors_folder_problem
from .._plugins._registry import NAME_RE, Registry, get_registry
from ._compose import _Builder, auto_blocks, compose
from ._specread import COMPONENT_KEYS, NODE_KEYS, SPEC_VERSION, TOP_KEYS, inside, read_spec_file
from ._specsave import save_spec, spec_dict  # noqa: F401  (this module is where callers find them)

#: A folder that widens where every spec file's component paths may point (``component_root``'s
#: default): set once for a machine whose weights live apart from its spec files.
ENV_COMPONENT_ROOT = "DIFFBLOCKS_COMPONENT_ROOT"


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
    # the spec file's own folder always; a wider root (component_root) in addition to it
    roots = [base] if os.path.abspath(root) == os.path.abspath(base) else [base, root]
    start = os.path.abspath(base)
    folder = os.path.normpath(os.path.join(start, raw))
    key, problem = "path", _problem_in_roots(f"path {raw!r}", folder, roots)
    sub = out.get("subfolder")
    if problem is None and sub is not None:
        folder = os.path.normpath(os.path.join(folder, sub))
        key, problem = (
            "subfolder",
            _problem_in_roots(f"path {raw!r} with subfolder {sub!r}", folder, roots),
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


def _problem_in_roots(shown: str, folder: str, roots: list[Path]) -> tuple[str, str] | None:
    """:func:`_folder_problem` against each allowed root in turn: fine inside any of them."""
    problem = None
    for root in roots:
        problem = _folder_problem(shown, folder, os.path.abspath(root), os.path.realpath(root))
        if problem is None or problem[0] != "outside-folder":
            return problem
    return problem


def _folder_problem(shown: str, folder: str, plain: str, real_root: str) -> tuple[str, str] | None:
    """(code, message) when ``folder`` leaves ``plain`` (the spec file's folder, or the
    ``component_root`` given to load_spec), reaches outside it through a symlink, or is not an
    existing folder; None when it is fine."""
    if not inside(folder, plain):
        return (
            "outside-folder",
            f"{shown} leads to {folder}, outside {plain}; component paths must stay inside the spec "
            f"file's folder or the folder {ENV_COMPONENT_ROOT} names (move the weights, set "
            f"{ENV_COMPONENT_ROOT}=<a folder holding them>, or pass load_spec(component_root=...))",
        )
    real = os.path.realpath(folder)
    if not inside(real, real_root):
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
            hint = suggest(name, accepted)
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
            hint = suggest(comp, known)
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

    Component paths are relative to the spec file's folder and must stay inside it, or inside
    ``component_root`` (default: the ``DIFFBLOCKS_COMPONENT_ROOT`` environment variable, if set),
    to allow a wider folder. With ``validate`` (the default), everything ``diffblocks run`` would
    refuse before computing is reported too: unknown input names, input values that do not fit the
    declared type hints, unknown components, pickle or truncated weight files.
    """
    source = Path(path)
    data = read_spec_file(source)
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
    if component_root is None:
        component_root = os.environ.get(ENV_COMPONENT_ROOT) or None
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
