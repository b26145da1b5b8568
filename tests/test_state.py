"""PipelineState and BlockState: namespaces, input protection, kwargs_type collection."""

import numpy as np
import pytest
from blockfactory import leaf
from diffblocks import BlockState, InputParam, OutputParam, PipelineState


def test_inputs_are_read_only_for_blocks():
    state = PipelineState()
    state.set_input("prompt", "a cat")
    with pytest.raises(TypeError):
        state.inputs["prompt"] = "changed"  # type: ignore[index]
    assert state.get("prompt") == "a cat"


def test_get_prefers_intermediates_then_inputs():
    state = PipelineState()
    state.set_input("x", 1)
    assert state.get("x") == 1
    state.set_intermediate("x", 2)
    assert state.get("x") == 2
    assert state.get("missing", "d") == "d"


def test_mutable_inputs_are_shallow_copied_into_block_state():
    def mutate(bs):
        bs.items.append(99)
        bs.opts["k"] = "changed"
        bs.arr[0] = 5.0  # arrays pass by reference, by design

    block = leaf(inputs=[InputParam("items"), InputParam("opts"), InputParam("arr")], fn=mutate)
    state = PipelineState()
    items, opts, arr = [1, 2], {"k": "v"}, np.zeros(2)
    state.set_input("items", items)
    state.set_input("opts", opts)
    state.set_input("arr", arr)
    block(None, state)
    assert items == [1, 2] and state.inputs["items"] == [1, 2]
    assert opts == {"k": "v"}
    assert arr[0] == 5.0  # no deep copies of tensors/arrays


def test_rebinding_an_input_never_reaches_state_inputs():
    block = leaf(inputs=[InputParam("image")], fn=lambda bs: setattr(bs, "image", "new"))
    state = PipelineState()
    state.set_input("image", "old")
    block(None, state)
    assert state.inputs["image"] == "old"
    assert "image" not in state.intermediates


def test_intermediate_written_back_only_when_rebound():
    class Box(list):
        pass

    same = Box([1])

    def touch(bs):
        bs.keep.append(2)  # mutated in place, not rebound
        bs.swap = "new"

    block = leaf(intermediate_inputs=[InputParam("keep"), InputParam("swap")], fn=touch)
    state = PipelineState()
    state.set_intermediate("keep", same)
    state.set_intermediate("swap", "old")
    block(None, state)
    assert state.intermediates["keep"] is same
    assert state.intermediates["swap"] == "new"


def test_undeclared_attributes_are_dropped():
    block = leaf(outputs=[OutputParam("y")], fn=lambda bs: (setattr(bs, "y", 1), setattr(bs, "junk", 2)))
    state = PipelineState()
    block(None, state)
    assert state.intermediates == {"y": 1}


def test_later_style_inputs_produced_upstream_are_read_from_intermediates():
    block = leaf(
        inputs=[InputParam("latents")],
        outputs=[OutputParam("out")],
        fn=lambda bs: setattr(bs, "out", bs.latents * 2),
    )
    state = PipelineState()
    state.set_intermediate("latents", 21)
    block(None, state)
    assert state.intermediates["out"] == 42


def test_kwargs_type_collects_tagged_values():
    seen = {}

    def grab(bs):
        seen.update(bs.denoiser_input_fields)
        seen["own_attr"] = bs.prompt_embeds

    block = leaf(inputs=[InputParam(kwargs_type="denoiser_input_fields")], fn=grab)
    state = PipelineState()
    state.set_intermediate("prompt_embeds", "E", kwargs_type="denoiser_input_fields")
    state.set_input("guidance", 7.5, kwargs_type="denoiser_input_fields")
    state.set_intermediate("other", 1)
    block(None, state)
    assert seen == {"prompt_embeds": "E", "guidance": 7.5, "own_attr": "E"}


def test_output_kwargs_type_tags_the_intermediate():
    block = leaf(outputs=[OutputParam("emb", kwargs_type="fields")], fn=lambda bs: setattr(bs, "emb", 3))
    state = PipelineState()
    block(None, state)
    assert state.get_intermediates_kwargs("fields") == {"emb": 3}


def test_block_state_helpers_and_repr():
    bs = BlockState(a=1, t=np.zeros((2, 3), dtype=np.float32))
    assert bs["a"] == 1 and "a" in bs
    bs["b"] = 2
    assert bs.as_dict()["b"] == 2
    assert "shape=(2, 3)" in repr(bs)
    state = PipelineState()
    state.set_input("p", "x")
    assert "inputs={p: 'x'}" in repr(state)
    assert state.to_dict()["inputs"] == {"p": "x"}


def test_required_param_missing_names_param_and_block():
    from diffblocks import MissingInputError

    block = leaf("NeedsPrompt", inputs=[InputParam("prompt", required=True)])
    with pytest.raises(MissingInputError) as info:
        block(None, PipelineState())
    assert "'prompt'" in str(info.value) and "NeedsPrompt" in str(info.value)
