"""The test kit for plugin authors, installed as a pytest plugin (entry point ``pytest11``).

Fixtures:
    ``diffblocks_registry``: an isolated registry (installed plugins are not loaded), made the one
    ``get_block`` uses for the test; plugin failures raise (strict mode).

Helpers:
    ``registered_plugin(plugin)``: a context manager registering a plugin object for a while;
    ``registered_plugin("acme-blocks")`` loads that installed distribution's own entry points
    (static ``diffblocks.blocks`` entries and hooks) into the registry in use.
    ``check_block(block, sample_inputs=None, name=None)``: contract checks for a block.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from ._blocks._base import ModularPipelineBlocks
from ._model._params import ComponentSpec, ConfigSpec, InputParam, OutputParam
from ._plugins._discovery import ENV_STRICT
from ._plugins._registry import NAME_RE, Registry, get_registry, use_registry

__all__ = [
    "BlockContractError",
    "check_block",
    "diffblocks_registry",
    "registered_plugin",
    "write_distribution",
]


class BlockContractError(AssertionError):
    """A block breaks the block contract; the message lists every problem found."""


@pytest.fixture
def diffblocks_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[Registry]:
    """An empty registry in strict mode, used by ``get_block`` for the duration of the test."""
    monkeypatch.setenv(ENV_STRICT, "1")
    with use_registry(Registry(autoload=False)) as registry:
        yield registry


@contextmanager
def registered_plugin(
    plugin: Any, name: str = "test-plugin", registry: Registry | None = None
) -> Iterator[Any]:
    """Register ``plugin`` inside the block: a module or object with ``@hookimpl`` functions
    (as distribution ``name``), or the name of an installed distribution, whose static
    ``diffblocks.blocks`` entries and hooks are loaded as the default registry would."""
    reg = registry if registry is not None else get_registry()
    info = reg.add_plugin(plugin, name=name)
    try:
        yield info
    finally:
        reg.remove_plugin(info.distribution)


def check_block(
    block: Any,
    sample_inputs: dict[str, Any] | None = None,
    name: str | None = None,
    components: dict[str, Any] | None = None,
) -> ModularPipelineBlocks:
    """Check a block (class or instance) against the contract; returns the instance.

    Declarations are lists of the right param types with string names, no name is declared twice,
    ``doc`` and ``repr`` render, ``name`` (if given) is lowercase ``namespace.name``, and with
    ``sample_inputs`` the block runs as a pipeline, sets every declared output, writes nothing it
    did not declare, and (a leaf) returns ``(components, state)`` from ``__call__``.
    """
    problems: list[str] = []
    if isinstance(block, type):
        block = block()
    if not isinstance(block, ModularPipelineBlocks):
        raise BlockContractError(f"{block!r} is not a ModularPipelineBlocks instance")
    label = name or type(block).__name__
    if name is not None and not NAME_RE.match(name):
        problems.append(f"name {name!r} is not lowercase 'namespace.name'")
    for attr, kind in (
        ("inputs", InputParam),
        ("intermediate_inputs", InputParam),
        ("intermediate_outputs", OutputParam),
        ("expected_components", ComponentSpec),
        ("expected_configs", ConfigSpec),
    ):
        try:
            values = getattr(block, attr)
        except Exception as exc:  # a declaration property that raises
            problems.append(f"{attr} raised {type(exc).__name__}: {exc}")
            continue
        if not isinstance(values, list):
            problems.append(f"{attr} must be a list, got {type(values).__name__}")
            continue
        names = []
        for v in values:
            if not isinstance(v, kind):
                problems.append(f"{attr} holds {v!r}, not a {kind.__name__}")
                continue
            if v.name is None and not getattr(v, "kwargs_type", None):
                problems.append(f"{attr} holds a nameless {kind.__name__} without kwargs_type")
            elif v.name is not None:
                if not isinstance(v.name, str) or not v.name:
                    problems.append(f"{attr} holds a {kind.__name__} with name {v.name!r}")
                names.append(v.name)
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            problems.append(f"{attr} declares {dupes} more than once")
    if not isinstance(block.description, str):
        problems.append("description must be a str")
    try:
        block.doc, repr(block)  # noqa: B018
    except Exception as exc:
        problems.append(f"doc/repr failed: {type(exc).__name__}: {exc}")
    if sample_inputs is not None and not problems:
        problems += _run_checks(block, sample_inputs, components)
    if problems:
        raise BlockContractError(f"block {label} breaks the block contract:\n  - " + "\n  - ".join(problems))
    return block


def _leaves(block: ModularPipelineBlocks) -> list[ModularPipelineBlocks]:
    subs = getattr(block, "sub_blocks", None)
    if not subs:
        return [block]
    return [leaf for sub in subs.values() for leaf in _leaves(sub)]


class _ReturnProbe(ModularPipelineBlocks):
    """Runs a leaf block as the pipeline does and records what its ``__call__`` returned (a
    pipeline ignores the return value of its top block, so a leaf that returns nothing works
    alone and breaks only inside a sequence)."""

    def __init__(self, inner: ModularPipelineBlocks) -> None:
        self.inner = inner
        self.model_name = inner.model_name  # the family supplies default component specs
        self.returned: list[Any] = []

    @property
    def inputs(self) -> list[InputParam]:
        return self.inner.inputs

    @property
    def intermediate_inputs(self) -> list[InputParam]:
        return self.inner.intermediate_inputs

    @property
    def intermediate_outputs(self) -> list[OutputParam]:
        return self.inner.intermediate_outputs

    @property
    def expected_components(self) -> list[ComponentSpec]:
        return self.inner.expected_components

    @property
    def expected_configs(self) -> list[ConfigSpec]:
        return self.inner.expected_configs

    def __call__(self, components: Any, state: Any) -> Any:
        result = self.inner(components, state)
        self.returned.append((result, state))
        return components, state


def _run_checks(
    block: ModularPipelineBlocks, sample_inputs: dict[str, Any], components: dict[str, Any] | None
) -> list[str]:
    """Run ``block`` on the sample inputs: every declared output is set, nothing undeclared is
    written, and a leaf's ``__call__`` returns ``(components, state)``."""
    problems: list[str] = []
    undeclared: dict[str, set[str]] = {}

    def watch(leaf: ModularPipelineBlocks) -> None:
        get, put = leaf._accessors()
        path = type(leaf).__name__
        read: dict[int, set[str]] = {}

        def checking_get(state: Any) -> Any:
            bs = get(state)
            read[id(bs)] = set(vars(bs))
            return bs

        def checking_put(state: Any, bs: Any) -> None:
            declared = read.get(id(bs), set()) | set(leaf.output_names)
            extra = set(vars(bs)) - declared
            if extra:
                undeclared.setdefault(path, set()).update(extra)
            put(state, bs)

        # instance attributes shadow the (cached) accessors for the run; removed afterwards
        leaf.__dict__["get_block_state"] = checking_get
        leaf.__dict__["set_block_state"] = checking_put

    leaves = _leaves(block)
    probe = _ReturnProbe(block) if leaves == [block] else None
    try:
        for leaf in leaves:
            watch(leaf)
        pipe = (probe or block).init_pipeline()
        if components:
            pipe.update_components(**components)
        state = pipe(**sample_inputs)
    except Exception as exc:
        return [f"running on the sample inputs raised {type(exc).__name__}: {exc}"]
    finally:
        for leaf in leaves:
            leaf.__dict__.pop("get_block_state", None)
            leaf.__dict__.pop("set_block_state", None)
    for out in block.intermediate_outputs:
        if out.name not in state.intermediates:
            problems.append(f"output {out.name!r} was not produced for the sample inputs")
    for result, given in probe.returned if probe else []:
        if not (isinstance(result, (tuple, list)) and len(result) == 2 and result[1] is given):
            problems.append(
                f"__call__ returned {type(result).__name__}, not (components, state): end it with "
                f"'return components, state' (inside a sequence anything else breaks the next block)"
            )
    for path, names in undeclared.items():
        problems.append(
            f"{path} set {sorted(names)} on its block state without declaring them, so they were "
            f"dropped: add OutputParam(...) for each to intermediate_outputs"
        )
    known = set(block.output_names) | set(block.input_names) | set(sample_inputs)
    direct = sorted(k for k in state.intermediates if k not in known)
    if direct:
        problems.append(
            f"wrote {direct} into the pipeline state without declaring them: add OutputParam(...) "
            f"for each to intermediate_outputs"
        )
    return problems


def write_distribution(
    folder: Any,
    name: str,
    version: str = "1.0",
    *,
    hooks: dict[str, str] | None = None,
    blocks: dict[str, str] | None = None,
    requires: str | None = None,
    files: dict[str, str] | None = None,
) -> None:
    """Write an installed-looking distribution (a ``.dist-info`` folder and its modules) into
    ``folder``, for tests and benchmarks of discovery. Put ``folder`` on ``sys.path`` to use it.

    ``hooks`` and ``blocks`` are entry points of the ``diffblocks`` and ``diffblocks.blocks``
    groups; ``files`` maps relative paths (``"pkg/__init__.py"``) to source text.
    """
    from pathlib import Path

    root = Path(folder)
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    meta = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    if requires:
        meta.append(f"Requires-Dist: {requires}")
    (info / "METADATA").write_text("\n".join(meta) + "\n")
    sections = []
    for group, entries in (("diffblocks", hooks), ("diffblocks.blocks", blocks)):
        if entries:
            sections.append(f"[{group}]\n" + "\n".join(f"{k} = {v}" for k, v in entries.items()))
    (info / "entry_points.txt").write_text("\n\n".join(sections) + "\n")
    for rel, text in (files or {}).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
