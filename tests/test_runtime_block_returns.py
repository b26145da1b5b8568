"""A block whose __call__ returns something other than (components, state): one clear error that
names the block, says what it returned and what it must return, and keeps the partial state."""

import pytest
from blockfactory import adder, leaf
from diffblocks import (
    AutoPipelineBlocks,
    BlockExecutionError,
    InputParam,
    LoopSequentialPipelineBlocks,
    OutputParam,
    PipelineBlock,
    SequentialPipelineBlocks,
)


def returning(value_of, name="Ret", inputs=None):
    """A leaf that sets ``y`` on the state, then returns ``value_of(components, state)``."""
    block = leaf(name, inputs=inputs, outputs=[OutputParam("y")], fn=lambda bs: setattr(bs, "y", 5))
    run = type(block).__call__

    def call(self, components, state):
        run(self, components, state)
        return value_of(components, state)

    type(block).__call__ = call
    return block


def run_chain(block):
    blocks = SequentialPipelineBlocks.from_blocks_dict({"a": adder(), "f": block, "g": adder()})
    with pytest.raises(BlockExecutionError) as info:
        blocks.init_pipeline()(x=1)
    return info.value


def test_block_returning_none_is_named_with_the_fix_and_keeps_the_state():
    err = run_chain(returning(lambda c, s: None))
    text = str(err)
    assert "block 'f' (Ret) returned None; __call__ must return (components, state)" in text
    assert "cannot unpack" not in text
    assert err.block_path == "f" and isinstance(err.__cause__, TypeError)
    # the block before it and the failing block itself had written their values
    assert err.state.get("x") == 2 and err.state.get("y") == 5


@pytest.mark.parametrize(
    ("value_of", "said"),
    [
        (lambda c, s: s, "returned a value of type PipelineState, not a pair"),
        (lambda c, s: (c, s, None), "returned a sequence that is not a pair (too many values"),
        (lambda c, s: [s], "returned a sequence that is not a pair (not enough values"),
    ],
)
def test_any_non_pair_return_is_reported_the_same_way(value_of, said):
    text = str(run_chain(returning(value_of)))
    assert f"block 'f' (Ret) {said}" in text and "__call__ must return (components, state)" in text


def test_nested_and_chosen_branch_paths():
    inner = SequentialPipelineBlocks.from_blocks_dict({"decode": returning(lambda c, s: None)})
    outer = SequentialPipelineBlocks.from_blocks_dict({"add": adder(), "post": inner})
    with pytest.raises(BlockExecutionError, match="block 'post.decode' \\(Ret\\) returned None") as info:
        outer.init_pipeline()(x=1)
    assert info.value.state.get("x") == 2

    class Pick(AutoPipelineBlocks):
        block_classes = [type(returning(lambda c, s: None, "Img", [InputParam("image")]))]
        block_names = ["img"]
        block_trigger_inputs = ["image"]

    with pytest.raises(BlockExecutionError, match="'pick' \\(Pick\\) returned None \\(what its chosen"):
        SequentialPipelineBlocks.from_blocks_dict({"pick": Pick()}).init_pipeline()(image=1)


def test_loop_sub_block_returning_none_keeps_finished_iterations():
    class Step(PipelineBlock):
        @property
        def intermediate_inputs(self):
            return [InputParam("latents", required=True)]

        def __call__(self, components, block_state, i, t):
            block_state.latents += 1
            if i == 2:
                return None
            return components, block_state

    class Loop(LoopSequentialPipelineBlocks):
        block_classes = [Step]
        block_names = ["step"]

        @property
        def loop_intermediate_outputs(self):
            return [OutputParam("latents")]

        def __call__(self, components, state):
            bs = self.get_block_state(state)
            for i in range(5):
                components, bs = self.loop_step(components, bs, i=i, t=0)
            self.set_block_state(state, bs)
            return components, state

    with pytest.raises(BlockExecutionError) as info:
        Loop().init_pipeline()(latents=0)
    err = info.value
    assert "block 'step' (Step) returned None; __call__ must return (components, block_state)" in str(err)
    assert err.state.get("latents") == 3


def test_errors_raised_inside_a_block_are_not_mistaken_for_a_bad_return():
    def unpacks_none(bs):
        a, b = None

    class WrongSignature(PipelineBlock):
        def __call__(self, components):
            return components

    for block, said in [
        (leaf("Inner", fn=unpacks_none), "raised TypeError: cannot unpack non-iterable NoneType"),
        (WrongSignature(), "__call__() takes 2 positional arguments"),
    ]:
        with pytest.raises(BlockExecutionError) as info:
            SequentialPipelineBlocks.from_blocks_dict({"f": block}).init_pipeline()()
        assert said in str(info.value) and "returned" not in str(info.value).split(";")[0]
