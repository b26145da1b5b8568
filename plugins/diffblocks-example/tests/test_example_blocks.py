"""diffblocks-example, tested with the diffblocks test kit."""

import pytest
from diffblocks import get_block
from diffblocks.testing import check_block, registered_plugin
from diffblocks_example import blocks, plugin


@pytest.mark.parametrize(
    "block, sample",
    [
        (blocks.Number, {"value": 2}),
        (blocks.Add, {"x": 1.0}),
        (blocks.Multiply, {"x": 1.0}),
        (blocks.Format, {"x": 1.5}),
        (blocks.RepeatAdd, {"x": 0.0}),
        (plugin.Arithmetic, {"value": 1}),
    ],
)
def test_blocks_keep_the_contract(block, sample):
    check_block(block, sample_inputs=sample)


def test_workflow_through_the_plugin_hooks(diffblocks_registry):
    with registered_plugin(plugin, name="diffblocks-example"):
        pipe = get_block("example.arith").init_pipeline()
        assert pipe(value=2, amount=3, factor=10, output="text") == "result: 50"
        assert diffblocks_registry.get_family("example").workflows == {"arith": "example.arith"}
    assert diffblocks_registry.block_names() == []


def test_auto_block_picks_by_factor(diffblocks_registry):
    with registered_plugin(plugin, name="diffblocks-example"):
        pipe = get_block("example.add_or_multiply").init_pipeline()
        assert pipe(x=3.0, factor=4, output="x") == 12.0
        assert pipe(x=3.0, output="x") == 4.0


def test_repeat_add_loops():
    pipe = blocks.RepeatAdd().init_pipeline()
    assert pipe(x=1.0, times=4, amount=0.5, output="x") == 3.0
