"""`diffblocks new-plugin`: a ready-to-install plugin distribution with one block and its tests."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from .._model._version import __version__

PYPROJECT = """\
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "0.1.0"
description = "diffblocks blocks: {ns}.*"
requires-python = ">=3.10"
dependencies = ["diffblocks>={major_minor},<1"]

# Hook implementations, imported when the registry is first used: keep this module light.
[project.entry-points.diffblocks]
{ns} = "{pkg}.plugin"

# Static declarations: listed without importing anything; imported the first time a block is used.
[project.entry-points."diffblocks.blocks"]
"{ns}.greet" = "{pkg}.blocks:Greet"

[tool.setuptools.packages.find]
where = ["src"]
"""

BLOCKS = '''\
"""Blocks of {dist}."""

from diffblocks import InputParam, OutputParam, PipelineBlock


class Greet(PipelineBlock):
    description = "Makes a greeting for `name`."

    @property
    def inputs(self):
        return [InputParam("name", str, required=True, description="who to greet")]

    @property
    def intermediate_outputs(self):
        return [OutputParam("greeting", str, "the greeting")]

    def __call__(self, components, state):
        block_state = self.get_block_state(state)
        block_state.greeting = f"Hello, {{block_state.name}}!"
        self.set_block_state(state, block_state)
        return components, state


class Shout(PipelineBlock):
    description = "Upper-cases the greeting."

    @property
    def intermediate_inputs(self):
        return [InputParam("greeting", str, required=True)]

    @property
    def intermediate_outputs(self):
        return [OutputParam("greeting", str, "the greeting, louder")]

    def __call__(self, components, state):
        block_state = self.get_block_state(state)
        block_state.greeting = block_state.greeting.upper()
        self.set_block_state(state, block_state)
        return components, state
'''

PLUGIN = '''\
"""Hook implementations of {dist}."""

from diffblocks import hookimpl


@hookimpl
def register_blocks(registry):
    # a "module:attr" string is imported only when the block is first used
    registry.register("{ns}.shout", "{pkg}.blocks:Shout")
'''

TESTS = '''\
"""Tests of {dist}, with the diffblocks test kit."""

from diffblocks import compose, get_block
from diffblocks.testing import check_block, registered_plugin

from {pkg} import blocks


def test_greet_keeps_the_block_contract():
    check_block(blocks.Greet, sample_inputs={{"name": "Ada"}}, name="{ns}.greet")


def test_blocks_compose_by_name(diffblocks_registry):
    # the installed distribution's own entry points: static blocks and hooks, as users get them
    with registered_plugin("{dist}"):
        pipe = compose(["{ns}.greet", "{ns}.shout"]).init_pipeline()
        assert pipe(name="Ada", output="greeting") == "HELLO, ADA!"
        assert get_block("{ns}.shout").description.startswith("Upper-cases")
'''

README = """\
# {dist}

diffblocks blocks in the `{ns}` namespace.

```bash
pip install .
diffblocks blocks list        # shows {ns}.greet and {ns}.shout
diffblocks run {ns}.greet --set name=Ada --output greeting
pytest tests
```
"""


def names_for(name: str) -> tuple[str, str, str]:
    """(distribution, namespace, package) for a plugin name such as ``acme-blocks``."""
    if "/" in name or "\\" in name:
        # a path would become part of the name ("x/y" -> "x-y"): the folder has its own option
        folder, _, base = name.replace("\\", "/").rpartition("/")
        raise ValueError(
            f"plugin name {name!r} looks like a path; give the name alone and the folder with --dir, "
            f"e.g. diffblocks new-plugin {base or 'acme-blocks'} --dir {folder or '.'}"
        )
    dist = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()
    if not dist or not dist[0].isalpha():
        raise ValueError(f"plugin name {name!r} must start with a letter, e.g. 'acme-blocks'")
    pkg = dist.replace("-", "_")
    ns = pkg.removeprefix("diffblocks_").removesuffix("_blocks") or pkg
    return dist, ns, pkg


def check_free(name: str, dist: str, ns: str, pkg: str) -> None:
    """ValueError if the plugin would share its name with an installed plugin, or its package
    would be a keyword or shadow a standard-library or installed module."""
    taken = _why_taken(dist, ns, pkg)
    if taken:
        raise ValueError(f"plugin name {name!r} {taken}; choose another, e.g. '{ns}-blocks' or 'acme-{ns}'")


def _why_taken(dist: str, ns: str, pkg: str) -> str | None:
    import importlib.util
    import keyword

    from .._plugins._discovery import scan

    for info in scan():  # first: the most telling reason
        if dist == info.distribution or ns in ({info.name} | {b.split(".")[0] for b, _ in info.blocks}):
            return f"is taken by the installed plugin {info.distribution}"
    if keyword.iskeyword(pkg) or keyword.iskeyword(ns):
        return "is a Python keyword"
    if pkg in sys.stdlib_module_names:
        return f"would shadow the standard-library module {pkg!r}"
    if _installed_module(pkg, importlib.util.find_spec):
        return f"would shadow the installed module {pkg!r}"
    return None


def _installed_module(pkg: str, find_spec: Any) -> bool:
    try:
        return find_spec(pkg) is not None
    except (ImportError, ValueError):
        return True  # a broken module of that name is there all the same


def new_plugin(name: str, folder: str | Path = ".") -> Path:
    """Write a plugin distribution into ``folder/<distribution>``; returns that path."""
    dist, ns, pkg = names_for(name)
    check_free(name, dist, ns, pkg)
    root = Path(folder) / dist
    if root.exists():
        raise FileExistsError(f"{root} already exists; choose another name or --dir")
    major_minor = ".".join(__version__.split(".")[:2])
    values = {"dist": dist, "ns": ns, "pkg": pkg, "major_minor": major_minor}
    files = {
        "pyproject.toml": PYPROJECT,
        "README.md": README,
        f"src/{pkg}/__init__.py": '"""{dist}: diffblocks plugin."""\n',
        f"src/{pkg}/blocks.py": BLOCKS,
        f"src/{pkg}/plugin.py": PLUGIN,
        f"tests/test_{pkg}.py": TESTS,
    }
    for rel, template in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.format(**values), encoding="utf-8")
    return root
