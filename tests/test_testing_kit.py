"""The test kit: isolated registry fixture, registered_plugin, check_block."""

import types

import diffblocks
import pytest
from blockfactory import leaf
from diffblocks import InputParam, OutputParam, PipelineBlock, hookimpl
from diffblocks.testing import BlockContractError, check_block, registered_plugin

pytest_plugins = []  # the kit is loaded through its pytest11 entry point


def make_plugin():
    mod = types.ModuleType("kit_plugin")

    @hookimpl
    def register_blocks(registry):
        registry.register(
            "kit.block", leaf("KitBlock", outputs=[OutputParam("y")], fn=lambda bs: setattr(bs, "y", 7))
        )

    mod.register_blocks = register_blocks
    return mod


def test_fixture_gives_an_empty_strict_registry(diffblocks_registry):
    import os

    assert diffblocks.list_blocks() == []
    assert os.environ["DIFFBLOCKS_STRICT_PLUGINS"] == "1"


def test_registered_plugin_is_removed_afterwards(diffblocks_registry):
    with registered_plugin(make_plugin(), name="kit-plugin") as info:
        assert info.status == "loaded"
        assert diffblocks.get_block("kit.block").init_pipeline()(output="y") == 7
    assert diffblocks.list_blocks() == []


def test_failing_plugin_raises_in_the_kit(diffblocks_registry):
    mod = types.ModuleType("broken")

    @hookimpl
    def register_blocks(registry):
        raise RuntimeError("nope")

    mod.register_blocks = register_blocks
    with pytest.raises(diffblocks.PluginError, match="nope"):
        with registered_plugin(mod, name="broken"):
            pass


def test_check_block_reports_every_problem():
    bad = leaf("Bad", inputs=[InputParam("a"), InputParam("a"), "oops"], outputs=[OutputParam("y")])
    with pytest.raises(BlockContractError) as info:
        check_block(bad, name="NotNamespaced")
    text = str(info.value)
    assert "'NotNamespaced'" in text and "more than once" in text and "not a InputParam" in text


def test_check_block_runs_sample_inputs_and_checks_outputs():
    ok = leaf(
        "Ok",
        inputs=[InputParam("a", required=True)],
        outputs=[OutputParam("y")],
        fn=lambda bs: setattr(bs, "y", bs.a),
    )
    assert check_block(ok, sample_inputs={"a": 1}, name="t.ok") is not None
    with pytest.raises(BlockContractError, match="required"):
        check_block(ok, sample_inputs={})


class _NoReturn(PipelineBlock):
    @property
    def inputs(self):
        return [InputParam("a", required=True)]

    @property
    def intermediate_outputs(self):
        return [OutputParam("y")]

    def __call__(self, components, state):
        bs = self.get_block_state(state)
        bs.y = bs.a
        self.set_block_state(state, bs)  # forgot `return components, state`


def test_check_block_fails_a_call_that_does_not_return_components_and_state():
    with pytest.raises(BlockContractError, match=r"returned NoneType, not \(components, state\)"):
        check_block(_NoReturn, sample_inputs={"a": 1})
    # the same block inside a sequence breaks the next block: that is what the check prevents
    seq = diffblocks.SequentialPipelineBlocks.from_blocks_dict({"a": _NoReturn(), "b": _NoReturn()})
    with pytest.raises(diffblocks.BlockExecutionError):
        seq.init_pipeline()(a=1)


def test_check_block_fails_a_block_that_writes_an_undeclared_value():
    sneaky = leaf(
        "Sneaky",
        inputs=[InputParam("a", required=True)],
        outputs=[OutputParam("y")],
        fn=lambda bs: (setattr(bs, "y", bs.a), setattr(bs, "z", 2)),
    )
    with pytest.raises(BlockContractError, match=r"Sneaky set \['z'\] .*without declaring"):
        check_block(sneaky, sample_inputs={"a": 1})


def test_check_block_fails_a_direct_undeclared_state_write():
    class Direct(PipelineBlock):
        @property
        def intermediate_outputs(self):
            return [OutputParam("y")]

        def __call__(self, components, state):
            state.set_intermediate("y", 1)
            state.set_intermediate("hidden", 2)
            return components, state

    with pytest.raises(BlockContractError, match=r"wrote \['hidden'\] into the pipeline state"):
        check_block(Direct, sample_inputs={})


def test_check_block_checks_every_leaf_of_a_sequence_and_restores_accessors():
    ok = leaf("Ok", inputs=[InputParam("a")], outputs=[OutputParam("y")], fn=lambda bs: setattr(bs, "y", 1))
    seq = diffblocks.SequentialPipelineBlocks.from_blocks_dict({"ok": ok})
    assert check_block(seq, sample_inputs={"a": 1}) is seq
    assert "set_block_state" not in vars(ok) or vars(ok)["set_block_state"].__name__ != "checking_put"
    assert ok.init_pipeline()(a=1, output="y") == 1


def test_registered_plugin_sees_the_installed_distributions_static_entries(
    diffblocks_registry, tmp_path, monkeypatch
):
    import sys

    from diffblocks.testing import write_distribution

    block = "from blockfactory import leaf\nfrom diffblocks import OutputParam\nStatic = leaf('Static', outputs=[OutputParam('y')], fn=lambda bs: setattr(bs, 'y', 3))\n"
    hook = "from diffblocks import hookimpl\n@hookimpl\ndef register_blocks(registry):\n    registry.register('kitdist.hooked', 'kitdist_pkg.blocks:Static')\n"
    write_distribution(
        tmp_path,
        "kitdist-blocks",
        hooks={"kitdist": "kitdist_pkg.plugin"},
        blocks={"kitdist.static": "kitdist_pkg.blocks:Static"},
        files={"kitdist_pkg/__init__.py": "", "kitdist_pkg/blocks.py": block, "kitdist_pkg/plugin.py": hook},
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        with registered_plugin("kitdist-blocks") as info:
            assert info.distribution == "kitdist-blocks"
            assert diffblocks.list_blocks()[0].distribution == "kitdist-blocks"
            assert set(diffblocks_registry.block_names()) == {"kitdist.static", "kitdist.hooked"}
            assert diffblocks.get_block("kitdist.static").init_pipeline()(output="y") == 3
        assert diffblocks_registry.block_names() == []
    finally:
        for mod in [m for m in sys.modules if m.startswith("kitdist_pkg")]:
            del sys.modules[mod]
