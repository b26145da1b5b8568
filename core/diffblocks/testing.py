"""The test kit for plugin authors, installed as a pytest plugin (entry point ``pytest11``).

Fixtures:
    ``diffblocks_registry``: an isolated registry (installed plugins are not loaded), made the one
    ``get_block`` uses for the test; plugin failures raise (strict mode).

Helpers:
    ``registered_plugin(plugin)``: a context manager registering a plugin object for a while.
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
    """Register ``plugin`` (a module or object with ``@hookimpl`` functions) inside the block."""
    reg = registry if registry is not None else get_registry()
    info = reg.add_plugin(plugin, name=name)
    try:
        yield info
    finally:
        reg.remove_plugin(name)


def check_block(
    block: Any,
    sample_inputs: dict[str, Any] | None = None,
    name: str | None = None,
    components: dict[str, Any] | None = None,
) -> ModularPipelineBlocks:
    """Check a block (class or instance) against the contract; returns the instance.

    Declarations are lists of the right param types with string names, no name is declared twice,
    ``doc`` and ``repr`` render, ``name`` (if given) is lowercase ``namespace.name``, and with
    ``sample_inputs`` the block runs as a pipeline and sets every declared output.
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
        try:
            pipe = block.init_pipeline()
            if components:
                pipe.update_components(**components)
            state = pipe(**sample_inputs)
            for out in block.intermediate_outputs:
                if out.name not in state.intermediates:
                    problems.append(f"output {out.name!r} was not produced for the sample inputs")
        except Exception as exc:
            problems.append(f"running on the sample inputs raised {type(exc).__name__}: {exc}")
    if problems:
        raise BlockContractError(f"block {label} breaks the block contract:\n  - " + "\n  - ".join(problems))
    return block


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
