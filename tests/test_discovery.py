"""Discovery from real entry-point metadata: throw-away distributions in a temp folder on sys.path."""

from __future__ import annotations

import sys

import pytest
from diffblocks import (
    BlockImportError,
    BlockNotFoundError,
    NameConflictError,
    PluginError,
    Registry,
    use_registry,
)
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
    with pytest.raises(BlockNotFoundError) as info:
        registry.get_block("bad.thing")
    text = str(info.value)
    assert "bad-plugin (disabled by DIFFBLOCKS_PLUGINS)" in text
    assert (
        "DIFFBLOCKS_PLUGINS='-bad-plugin' excludes it; remove '-bad-plugin' from DIFFBLOCKS_PLUGINS" in text
    )


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


# -- issue #11 "Plugins" ------------------------------------------------------------------------


def test_sys_exit_and_base_exceptions_are_recorded_as_failures(site):
    good(site)
    write_distribution(
        site,
        "bad-exit",
        hooks={"bad_exit": "bad_exit_mod"},
        files={"bad_exit_mod.py": "import sys\nsys.exit()\n"},
    )
    hook = (
        "from diffblocks import hookimpl\n"
        "class Odd(BaseException):\n    pass\n"
        "@hookimpl\ndef register_blocks(registry):\n    raise Odd('odd one')\n"
    )
    write_distribution(site, "bad-odd", hooks={"bad_odd": "bad_odd_mod"}, files={"bad_odd_mod.py": hook})
    registry = Registry()
    plugins = {p.distribution: p for p in registry.list_plugins()}
    assert plugins["bad-exit"].status == "failed" and plugins["bad-exit"].error == "SystemExit"
    assert plugins["bad-odd"].status == "failed" and plugins["bad-odd"].error == "Odd: odd one"
    assert plugins["good-plugin"].status == "loaded"
    assert plugins["bad-exit"].as_dict()["status"] == "failed"  # the plain string, for JSON


def test_keyboard_interrupt_names_the_plugin_being_loaded(site):
    write_distribution(
        site, "bad-kbd", hooks={"kbd": "bad_kbd_mod"}, files={"bad_kbd_mod.py": "raise KeyboardInterrupt\n"}
    )
    with pytest.raises(KeyboardInterrupt, match="bad-kbd"):
        Registry().list_blocks()


def test_import_time_registration_of_a_failing_plugin_is_dropped(site):
    good(site)
    src = (
        "import diffblocks\n"
        "diffblocks.registry.register('good.shift', 'bad_take:Nope', override=True)\n"
        "diffblocks.registry.register('bad.extra', 'bad_take:Nope')\n"
        "raise RuntimeError('gave up')\n"
    )
    write_distribution(site, "bad-take", hooks={"take": "bad_take"}, files={"bad_take.py": src})
    with use_registry(Registry()) as registry:
        assert [p.status for p in registry.list_plugins() if p.distribution == "bad-take"] == ["failed"]
        assert "bad.extra" not in registry.block_names()
        assert [c.distribution for c in registry.list_blocks() if c.name == "good.shift"] == ["good-plugin"]
        assert registry.get_block("good.shift").init_pipeline()(x=1, output="x") == 2


def test_import_time_registration_belongs_to_the_plugin(site):
    src = "import diffblocks\ndiffblocks.registry.register('good.lazy', 'good_reg:Nope')\n"
    write_distribution(site, "good-reg", hooks={"reg": "good_reg"}, files={"good_reg.py": src})
    with use_registry(Registry()) as registry:
        (entry,) = [c for c in registry.list_blocks() if c.name == "good.lazy"]
        assert entry.distribution == "good-reg"


def test_wrapper_hooks_run_as_pluggy_runs_them(site):
    src = """
from diffblocks import hookimpl

@hookimpl(wrapper=True)
def register_blocks(registry):
    registry.register("good.wrapped", "good_wrap:Nope")
    return (yield)

@hookimpl(hookwrapper=True)
def register_families(registry):
    from diffblocks import ModelFamily
    registry.register(ModelFamily("good_fam"))
    yield
"""
    write_distribution(site, "good-wrap", hooks={"wrap": "good_wrap"}, files={"good_wrap.py": src})
    registry = Registry()
    assert [p.status for p in registry.list_plugins() if p.distribution == "good-wrap"] == ["loaded"]
    assert "good.wrapped" in registry.block_names()
    assert registry.get_family("good_fam").distribution == "good-wrap"


FAMILY_SRC = """
from diffblocks import ModelFamily, hookimpl

@hookimpl
def register_families(registry):
    registry.register(ModelFamily("dup", "{dist}"){extra})

def load(spec, path, **kwargs):
    return "{dist}"

@hookimpl
def register_component_loaders(registry):
    registry.register("Vocab", load{extra})
"""


def claimant(site, dist, mod, extra=""):
    src = FAMILY_SRC.format(dist=dist, extra=extra)
    write_distribution(site, dist, hooks={mod: mod}, files={f"{mod}.py": src})


def test_families_and_loaders_are_claims_refused_when_contested(site):
    from diffblocks import ComponentSpec

    claimant(site, "good-one", "good_one")
    claimant(site, "good-two", "good_two")
    registry = Registry()
    with pytest.raises(NameConflictError, match="model family 'dup'.*good-one.*good-two"):
        registry.get_family("dup")
    with pytest.raises(NameConflictError, match="model family"):
        registry.find_family("dup")
    loader = registry.component_loaders()["Vocab"]  # making a pipeline still works ...
    with pytest.raises(NameConflictError, match="component loader 'Vocab'"):
        loader(ComponentSpec("vocab", "x:Vocab"), "/nowhere")  # ... using the loader does not


def test_exactly_one_family_and_loader_override_wins(site):
    from diffblocks import ComponentSpec

    claimant(site, "good-one", "good_one")
    claimant(site, "good-two", "good_two", extra=", override=True")
    registry = Registry()
    assert registry.get_family("dup").description == "good-two"
    assert registry.component_loaders()["Vocab"](ComponentSpec("vocab", "x:Vocab"), "/nowhere") == "good-two"


def test_plugin_loaders_never_load_models(tmp_path):
    import types

    from blockfactory import leaf
    from diffblocks import ComponentLoadError, ComponentSpec, SequentialPipelineBlocks, hookimpl

    class FakeModel:  # what the pipeline treats as a model: parameters() and to()
        def parameters(self):
            return []

        def to(self, *args):
            return self

        def state_dict(self):
            return {}

    class Table:
        pass

    plugin = types.ModuleType("pickle_loader")

    @hookimpl
    def register_component_loaders(registry):
        registry.register("FakeModel", lambda spec, path, **kw: FakeModel())
        registry.register("Table", lambda spec, path, **kw: FakeModel())

    plugin.register_component_loaders = register_component_loaders
    with use_registry(Registry(autoload=False)) as registry:
        registry.add_plugin(plugin, name="pickle-loader")
        for name, cls in (("model", FakeModel), ("table", Table)):
            block = leaf("Uses", components=[ComponentSpec(name, cls)])
            pipe = SequentialPipelineBlocks.from_blocks_dict({"b": block}).init_pipeline()
            with pytest.raises(ComponentLoadError, match="pickle-loader.*safetensors"):
                pipe.load_components(tmp_path, names=[name])


def test_diffblocks_plugins_matches_distribution_names_only(site, monkeypatch):
    good(site)
    # an entry point may be named anything: this one impersonates good-plugin
    write_distribution(
        site, "other-plugin", hooks={"good-plugin": "other_imp"}, files={"other_imp.py": "IMPORTED = 1\n"}
    )
    monkeypatch.setenv("DIFFBLOCKS_PLUGINS", "good-plugin")
    status = {p.distribution: p.status for p in Registry().list_plugins()}
    assert status["good-plugin"] == "loaded" and status["other-plugin"] == "disabled"
    assert "other_imp" not in sys.modules


def test_strict_mode_raises_on_every_call_that_uses_the_broken_state(site, monkeypatch):
    good(site)
    write_distribution(site, "bad-plugin", hooks={"bad": "bad_pkg.nope"}, files={"bad_pkg/__init__.py": ""})
    monkeypatch.setenv("DIFFBLOCKS_STRICT_PLUGINS", "1")
    registry = Registry()
    for call in (
        registry.list_blocks,
        registry.list_blocks,
        lambda: registry.get_block("good.shift"),
        lambda: registry.find_family("good"),
        registry.component_loaders,
    ):
        with pytest.raises(PluginError, match="bad-plugin"):
            call()
    assert {p.distribution: p.status for p in registry.list_plugins()}["bad-plugin"] == "failed"


def test_plugin_stdout_goes_to_stderr(site, capsys):
    src = "print('chatty import')\nfrom diffblocks import hookimpl\n@hookimpl\ndef register_blocks(registry):\n    print('chatty hook')\n"
    write_distribution(site, "good-chatty", hooks={"chatty": "good_chatty"}, files={"good_chatty.py": src})
    Registry().list_blocks()
    out, err = capsys.readouterr()
    assert "chatty" not in out and "chatty import" in err and "chatty hook" in err


def test_slow_plugin_gets_a_notice_naming_it_while_it_loads(site, capsys, monkeypatch):
    from diffblocks._plugins import _loading

    monkeypatch.setattr(_loading, "SLOW_SECONDS", 0.05)
    src = "import sys, time\ntime.sleep(1.0)\nsys.stderr.write('slow import done\\n')\n"
    write_distribution(site, "good-slow", hooks={"slow": "good_slow"}, files={"good_slow.py": src})
    Registry().list_blocks()
    err = capsys.readouterr().err
    assert "still loading plugin 'slow' (good-slow 1.0)" in err
    assert err.index("still loading") < err.index("slow import done")  # while, not after


def test_failed_plugin_is_reported_with_its_error(site):
    write_distribution(
        site,
        "bad-plugin",
        hooks={"bad": "bad_pkg.plugin"},
        blocks={"bad.static": "bad_pkg.blocks:Nope"},
        files={"bad_pkg/__init__.py": "", "bad_pkg/plugin.py": "raise RuntimeError('broken on import')"},
    )
    with pytest.raises(BlockNotFoundError) as info:
        Registry().get_block("bad.static")
    text = str(info.value)
    assert "RuntimeError: broken on import" in text and "install it" not in text


def test_filter_names_that_are_no_distribution_are_noted(site):
    from diffblocks._plugins._discovery import scan, unmatched_filter_names

    good(site)
    write_distribution(site, "other-plugin", hooks={"oth": "other_mod"}, files={"other_mod.py": ""})
    (note,) = unmatched_filter_names(scan(), "oth,-good-plugin")
    assert "'oth'" in note and "did you mean the distribution 'other-plugin'" in note


# -- hooks that name no hook; blocks of plugins left out ----------------------------------------

TYPO_HOOK = """
from diffblocks import hookimpl

@hookimpl
def register_block(registry):
    registry.register("bad.typo", "bad_typo:Nope")

@hookimpl
def register_families(registry):
    pass
"""


def test_misspelled_hook_fails_the_plugin_naming_the_hook_it_meant(site):
    good(site)
    write_distribution(
        site,
        "bad-typo",
        hooks={"typo": "bad_typo"},
        blocks={"bad.static": "bad_typo:Nope"},
        files={"bad_typo.py": TYPO_HOOK},
    )
    registry = Registry()
    plugins = {p.distribution: p for p in registry.list_plugins()}
    assert plugins["bad-typo"].status == "failed"
    error = plugins["bad-typo"].error
    assert "bad_typo.register_block implements unknown hook 'register_block'" in error
    assert "did you mean 'register_blocks'" in error
    assert "bad.static" not in registry.block_names()  # nothing of it stays registered
    assert plugins["good-plugin"].status == "loaded"
    with pytest.raises(PluginError, match="unknown hook 'register_block'"):
        Registry(autoload=False).add_plugin(sys.modules["bad_typo"], name="bad-typo")


def test_optional_hook_for_another_version_is_let_be(site):
    src = (
        "from diffblocks import hookimpl\n"
        "@hookimpl(optionalhook=True)\ndef register_schedulers(registry):\n    pass\n"
        "@hookimpl\ndef register_blocks(registry):\n    registry.register('good.opt', 'good_opt:X')\n"
    )
    write_distribution(site, "good-opt", hooks={"opt": "good_opt"}, files={"good_opt.py": src})
    registry = Registry()
    assert [p.status for p in registry.list_plugins() if p.distribution == "good-opt"] == ["loaded"]
    assert "good.opt" in registry.block_names()


def hooked(site):
    """good-hooked: one static block, and one registered by its hook (known only once it runs)."""
    src = HOOK_SRC.format(name="good.by_hook", target="good_hooked.blocks:Shift", extra="")
    write_distribution(
        site,
        "good-hooked",
        hooks={"good": "good_hooked.plugin"},
        blocks={"good.shift": "good_hooked.blocks:Shift"},
        files={
            "good_hooked/__init__.py": "",
            "good_hooked/blocks.py": BLOCK_SRC.format(ns="good", amount=1),
            "good_hooked/plugin.py": src,
        },
    )


@pytest.mark.parametrize(
    "env, how",
    [
        ("-good-hooked", "DIFFBLOCKS_PLUGINS='-good-hooked' excludes it; remove '-good-hooked' from"),
        (
            "other-plugin",
            "DIFFBLOCKS_PLUGINS='other-plugin' loads only the distributions it names; add 'good-hooked'",
        ),
        (
            "",
            "DIFFBLOCKS_PLUGINS is set but empty, which loads no plugin; unset it, or set it to 'good-hooked'",
        ),
        (
            "other-plugin,-good-hooked",
            "excludes it; remove '-good-hooked' from DIFFBLOCKS_PLUGINS and add 'good-hooked' to load it",
        ),
    ],
)
def test_block_of_a_disabled_plugin_names_it_and_how_to_enable_it(site, monkeypatch, env, how):
    hooked(site)
    good(site, name="other-plugin", pkg="other_pkg", ns="other")
    monkeypatch.setenv("DIFFBLOCKS_PLUGINS", env)
    registry = Registry()
    # the static name is known from its entry point; the hook's by its namespace
    for name in ("good.shift", "good.by_hook"):
        with pytest.raises(BlockNotFoundError) as info:
            registry.get_block(name)
        text = str(info.value)
        assert "It is provided by good-hooked (disabled by DIFFBLOCKS_PLUGINS)" in text and how in text
        assert ("the 'good' namespace belongs to it" in text) == (name == "good.by_hook")
    assert "good_hooked.plugin" not in sys.modules
    monkeypatch.delenv("DIFFBLOCKS_PLUGINS")
    assert Registry().get_block("good.by_hook").init_pipeline()(x=1, output="x") == 2


def test_misspelled_distribution_in_diffblocks_plugins_is_named_on_lookup(site, monkeypatch):
    good(site)
    good(site, name="other-plugin", pkg="other_pkg", ns="other")
    monkeypatch.setenv("DIFFBLOCKS_PLUGINS", "good-plugni")
    with pytest.raises(BlockNotFoundError) as info:
        Registry().get_block("good.shift")
    text = str(info.value)
    assert "add 'good-plugin' to it" in text
    assert (
        "Note: DIFFBLOCKS_PLUGINS names 'good-plugni', which is no installed plugin distribution "
        "(did you mean the distribution 'good-plugin'?)." in text
    )
    # a name no plugin provides still gets the note: the typo may be why it is missing
    with pytest.raises(BlockNotFoundError, match="names 'good-plugni'"):
        Registry().get_block("nobody.here")
