"""Discovery from real entry-point metadata: throw-away distributions in a temp folder on sys.path."""

from __future__ import annotations

import sys

import pytest
from diffblocks import BlockImportError, NameConflictError, PluginError, Registry
from diffblocks.testing import write_distribution

BLOCK_SRC = """
from diffblocks import InputParam, OutputParam, PipelineBlock

class Shift(PipelineBlock):
    model_name = "{ns}"
    @property
    def intermediate_inputs(self):
        return [InputParam("x", required=True)]
    @property
    def intermediate_outputs(self):
        return [OutputParam("x")]
    def __call__(self, components, state):
        bs = self.get_block_state(state)
        bs.x = bs.x + {amount}
        self.set_block_state(state, bs)
        return components, state
"""

HOOK_SRC = """
from diffblocks import hookimpl

@hookimpl
def register_blocks(registry):
    registry.register("{name}", "{target}"{extra})
"""


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A folder on sys.path; distributions written there are 'installed'."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("DIFFBLOCKS_PLUGINS", raising=False)
    monkeypatch.delenv("DIFFBLOCKS_STRICT_PLUGINS", raising=False)
    yield tmp_path
    for mod in [m for m in sys.modules if m.startswith(("good_", "bad_", "other_", "late_"))]:
        del sys.modules[mod]


def good(site, name="good-plugin", pkg="good_pkg", ns="good", amount=1, requires="diffblocks>=0.1"):
    write_distribution(
        site,
        name,
        blocks={f"{ns}.shift": f"{pkg}.blocks:Shift"},
        requires=requires,
        files={f"{pkg}/__init__.py": "", f"{pkg}/blocks.py": BLOCK_SRC.format(ns=ns, amount=amount)},
    )


def ours(registry, dist):
    return [b for b in registry.list_blocks() if b.distribution == dist]


def test_static_entries_listed_without_importing(site):
    good(site)
    registry = Registry()
    (entry,) = ours(registry, "good-plugin")
    assert entry.name == "good.shift" and entry.version == "1.0" and entry.target == "good_pkg.blocks:Shift"
    assert not entry.is_imported() and "good_pkg.blocks" not in sys.modules
    block = registry.get_block("good.shift")
    assert "good_pkg.blocks" in sys.modules and entry.is_imported()
    assert block.init_pipeline()(x=1, output="x") == 2
    assert registry.get_block("good.shift") is not block  # a new instance each time


def test_broken_hook_plugin_is_isolated_and_leaves_nothing(site):
    good(site)
    write_distribution(
        site,
        "bad-plugin",
        hooks={"bad": "bad_pkg.plugin"},
        blocks={"bad.static": "bad_pkg.blocks:Nope"},
        files={"bad_pkg/__init__.py": "", "bad_pkg/plugin.py": "raise RuntimeError('broken on import')"},
    )
    registry = Registry()
    plugins = {p.distribution: p for p in registry.list_plugins()}
    assert plugins["bad-plugin"].status == "failed"
    assert "broken on import" in plugins["bad-plugin"].error
    assert plugins["good-plugin"].status == "loaded"
    assert ours(registry, "bad-plugin") == []  # its static entry was withdrawn too
    with pytest.raises(Exception, match="bad-plugin \\(failed to load\\)"):
        registry.get_block("bad.static")
    assert registry.get_block("good.shift") is not None


def test_hook_that_raises_midway_registers_nothing(site):
    src = """
from diffblocks import hookimpl

@hookimpl
def register_blocks(registry):
    registry.register("half.one", "half_pkg:One")
    raise ValueError("second registration failed")
"""
    write_distribution(site, "half-plugin", hooks={"half": "half_pkg"}, files={"half_pkg/__init__.py": src})
    registry = Registry()
    assert [p.status for p in registry.list_plugins() if p.distribution == "half-plugin"] == ["failed"]
    assert "half.one" not in registry.block_names()


def test_strict_mode_turns_failures_into_errors(site, monkeypatch):
    write_distribution(site, "bad-plugin", hooks={"bad": "bad_pkg.nope"}, files={"bad_pkg/__init__.py": ""})
    monkeypatch.setenv("DIFFBLOCKS_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="bad-plugin"):
        Registry().list_blocks()


def test_broken_static_target_fails_only_that_block(site):
    write_distribution(
        site,
        "late-plugin",
        blocks={"late.ok": "late_pkg:Ok", "late.bad": "late_pkg:Missing"},
        files={"late_pkg/__init__.py": BLOCK_SRC.format(ns="late", amount=5).replace("Shift", "Ok")},
    )
    registry = Registry()
    with pytest.raises(BlockImportError, match="late-plugin"):
        registry.get_block("late.bad")
    assert registry.get_block("late.ok").init_pipeline()(x=0, output="x") == 5


def test_conflicting_names_listed_and_refused(site):
    good(site)
    good(site, name="other-plugin", pkg="other_pkg", ns="good", amount=100)
    registry = Registry()
    claims = [b for b in registry.list_blocks() if b.name == "good.shift"]
    assert {c.distribution for c in claims} == {"good-plugin", "other-plugin"}
    assert all(c.conflict for c in claims)
    with pytest.raises(NameConflictError) as info:
        registry.get_block("good.shift")
    assert "good-plugin" in str(info.value) and "other-plugin" in str(info.value)


def test_exactly_one_override_wins(site):
    good(site)
    write_distribution(
        site,
        "other-plugin",
        hooks={"other": "other_pkg.plugin"},
        files={
            "other_pkg/__init__.py": "",
            "other_pkg/blocks.py": BLOCK_SRC.format(ns="good", amount=100),
            "other_pkg/plugin.py": HOOK_SRC.format(
                name="good.shift", target="other_pkg.blocks:Shift", extra=", override=True"
            ),
        },
    )
    registry = Registry()
    assert registry.get_block("good.shift").init_pipeline()(x=0, output="x") == 100


@pytest.mark.parametrize(
    "env, expected",
    [
        ("", set()),
        ("good-plugin", {"good-plugin"}),
        ("-good-plugin", {"other-plugin"}),
        ("good_plugin,other-plugin", {"good-plugin", "other-plugin"}),
    ],
)
def test_diffblocks_plugins_filter(site, monkeypatch, env, expected):
    good(site)
    good(site, name="other-plugin", pkg="other_pkg", ns="other")
    monkeypatch.setenv("DIFFBLOCKS_PLUGINS", env)
    registry = Registry()
    status = {
        p.distribution: p.status
        for p in registry.list_plugins()
        if p.distribution in ("good-plugin", "other-plugin")
    }
    assert {d for d, s in status.items() if s == "loaded"} == expected
    assert {d for d, s in status.items() if s == "disabled"} == {"good-plugin", "other-plugin"} - expected


def test_disabled_plugin_is_never_imported_and_named_on_use(site, monkeypatch):
    write_distribution(
        site,
        "bad-plugin",
        hooks={"bad": "bad_pkg.plugin"},
        blocks={"bad.thing": "bad_pkg:X"},
        files={"bad_pkg/__init__.py": "", "bad_pkg/plugin.py": "raise SystemExit('must not import')"},
    )
    monkeypatch.setenv("DIFFBLOCKS_PLUGINS", "-bad-plugin")
    registry = Registry()
    assert "bad_pkg.plugin" not in sys.modules
    with pytest.raises(Exception, match="bad-plugin \\(disabled\\)"):
        registry.get_block("bad.thing")


def test_incompatible_requirement_is_not_imported(site):
    good(site, requires="diffblocks>=99")
    registry = Registry()
    (info,) = [p for p in registry.list_plugins() if p.distribution == "good-plugin"]
    assert info.status == "incompatible" and "diffblocks>=99" in info.error
    assert "good.shift" not in registry.block_names()


def test_invalid_static_name_fails_the_plugin(site):
    write_distribution(site, "good-plugin", blocks={"NoNamespace": "x:y"})
    registry = Registry()
    (info,) = [p for p in registry.list_plugins() if p.distribution == "good-plugin"]
    assert info.status == "failed" and "namespace.name" in info.error
