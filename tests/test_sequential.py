"""SequentialPipelineBlocks: construction, aggregation and sub-block surgery."""

import warnings

import pytest
from blockfactory import adder, leaf
from diffblocks import (
    BlockDefinitionError,
    DefaultConflictWarning,
    InputParam,
    InsertableDict,
    OutputParam,
    SequentialPipelineBlocks,
)


def names(params):
    return [p.name for p in params]


def test_from_blocks_dict_accepts_classes_and_instances():
    a = adder()
    blocks = SequentialPipelineBlocks.from_blocks_dict({"a": a, "b": type(adder())})
    assert blocks.sub_blocks["a"] is a
    assert type(blocks.sub_blocks["b"]).__name__ == "Add"
    assert blocks.init_pipeline()(x=1, output="x") == 3


def test_block_classes_and_block_names_class_attributes():
    A, B = type(adder("x", 1, "A")), type(adder("x", 10, "B"))

    class Both(SequentialPipelineBlocks):
        block_classes = [A, B]
        block_names = ["first", "second"]

    blocks = Both()
    assert list(blocks.sub_blocks) == ["first", "second"]
    assert blocks.init_pipeline()(x=0, output="x") == 11


def test_mismatched_block_names_is_an_error():
    class Bad(SequentialPipelineBlocks):
        block_classes = [type(adder())]
        block_names = ["a", "b"]

    with pytest.raises(BlockDefinitionError, match="one name per block"):
        Bad()


def test_colliding_sub_block_names_are_an_error():
    with pytest.raises(BlockDefinitionError, match="two sub-blocks are named 'a'"):
        SequentialPipelineBlocks.from_blocks_dict([("a", adder()), ("a", adder())])
    with pytest.raises(BlockDefinitionError, match="without '.'"):
        SequentialPipelineBlocks.from_blocks_dict({"a.b": adder()})
    with pytest.raises(BlockDefinitionError, match="not a block"):
        SequentialPipelineBlocks.from_blocks_dict({"a": 42})


def test_intermediate_produced_upstream_is_not_a_pipeline_input():
    make = leaf(
        "Make",
        inputs=[InputParam("n", int)],
        outputs=[OutputParam("y")],
        fn=lambda bs: setattr(bs, "y", bs.n),
    )
    use = leaf(
        "Use",
        intermediate_inputs=[InputParam("y", required=True), InputParam("z")],
        outputs=[OutputParam("w")],
    )
    blocks = SequentialPipelineBlocks.from_blocks_dict({"make": make, "use": use})
    assert names(blocks.inputs) == ["n"]
    assert names(blocks.intermediate_inputs) == ["z"]
    assert blocks.required_intermediate_inputs == []
    assert names(blocks.intermediate_outputs) == ["y", "w"]


def test_inputs_deduplicated_first_wins_and_none_default_filled():
    a = leaf("A", inputs=[InputParam("steps", int, default=None, description="first")])
    b = leaf("B", inputs=[InputParam("steps", int, default=50, description="second", required=True)])
    blocks = SequentialPipelineBlocks.from_blocks_dict({"a": a, "b": b})
    (steps,) = blocks.inputs
    assert steps.description == "first" and steps.default == 50 and steps.required
    # aggregation does not mutate the sub-blocks' params
    assert a.inputs[0].default is None and not a.inputs[0].required


def test_conflicting_defaults_warn_once_naming_both_blocks():
    a = leaf("A", inputs=[InputParam("scale", default=1.0)])
    b = leaf("B", inputs=[InputParam("scale", default=2.0)])
    blocks = SequentialPipelineBlocks.from_blocks_dict({"a": a, "b": b})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (scale,) = blocks.inputs
    conflicts = [w for w in caught if issubclass(w.category, DefaultConflictWarning)]
    assert len(conflicts) == 1 and "'a'" in str(conflicts[0].message) and "'b'" in str(conflicts[0].message)
    assert scale.default == 1.0


def test_surgery_insert_pop_assign_is_followed_at_once():
    blocks = SequentialPipelineBlocks.from_blocks_dict({"a": adder("x", 1), "b": adder("x", 10)})
    pipe = blocks.init_pipeline()
    assert pipe(x=0, output="x") == 11
    blocks.sub_blocks.insert("c", adder("x", 100), 0)
    assert list(blocks.sub_blocks) == ["c", "a", "b"]
    assert pipe(x=0, output="x") == 111
    blocks.sub_blocks.pop("a")
    assert pipe(x=0, output="x") == 110
    blocks.sub_blocks["d"] = leaf(
        "D", inputs=[InputParam("k", int)], outputs=[OutputParam("k2")], fn=lambda bs: setattr(bs, "k2", bs.k)
    )
    assert "k" in names(blocks.inputs) and "k2" in names(blocks.intermediate_outputs)
    assert pipe(x=0, k=5, output=["x", "k2"]) == {"x": 110, "k2": 5}
    del blocks.sub_blocks["d"]
    assert "k" not in names(blocks.inputs)


def test_nested_surgery_reaches_the_parent():
    inner = SequentialPipelineBlocks.from_blocks_dict({"a": adder("x", 1)})
    outer = SequentialPipelineBlocks.from_blocks_dict({"inner": inner})
    assert names(outer.intermediate_outputs) == ["x"]
    inner.sub_blocks["b"] = leaf("B", outputs=[OutputParam("new")], fn=lambda bs: setattr(bs, "new", 1))
    assert names(outer.intermediate_outputs) == ["x", "new"]


def test_insertable_dict_insert_moves_existing_keys():
    d = InsertableDict()
    d["a"], d["b"], d["c"] = 1, 2, 3
    d.insert("c", 30, 0)
    assert list(d.items()) == [("c", 30), ("a", 1), ("b", 2)]
    d.insert("z", 0, 99)
    assert list(d)[-1] == "z"
    assert "0: ('c'" in repr(d)
