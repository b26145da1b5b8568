"""ModularPipeline: calling, outputs, validation before running, errors that keep work."""

import pytest
from blockfactory import adder, leaf
from diffblocks import (
    BlockExecutionError,
    DiffblocksError,
    InputParam,
    MissingInputError,
    MissingOutputError,
    OutputParam,
    PipelineState,
    SequentialPipelineBlocks,
    UnknownInputError,
)


def chain():
    prep = leaf(
        "Prep",
        inputs=[InputParam("prompt", str, required=True), InputParam("steps", int, default=4)],
        outputs=[OutputParam("n")],
        fn=lambda bs: setattr(bs, "n", bs.steps),
    )
    work = leaf(
        "Work",
        intermediate_inputs=[InputParam("n", required=True), InputParam("seed", required=True)],
        outputs=[OutputParam("result")],
        fn=lambda bs: setattr(bs, "result", bs.n * 10 + bs.seed),
    )
    return SequentialPipelineBlocks.from_blocks_dict({"prep": prep, "work": work})


def test_output_none_name_list_and_bad_type():
    pipe = chain().init_pipeline()
    state = pipe(prompt="p", seed=1)
    assert isinstance(state, PipelineState) and state.get("result") == 41
    assert pipe(prompt="p", seed=1, output="result") == 41
    assert pipe(prompt="p", seed=1, output=["result", "prompt"]) == {"result": 41, "prompt": "p"}
    with pytest.raises(TypeError, match="output must be"):
        pipe(prompt="p", seed=1, output=3)


def test_unknown_output_names_suggest_and_keep_the_state():
    pipe = chain().init_pipeline()
    with pytest.raises(DiffblocksError) as info:
        pipe(prompt="p", seed=1, output="reslt")
    err = info.value
    assert isinstance(err, ValueError)
    assert "output='reslt'" in str(err) and "Did you mean 'result'" in str(err)
    assert err.state.get("result") == 41  # the run happened: its values are kept
    with pytest.raises(DiffblocksError) as info:
        pipe(prompt="p", seed=1, output=["result", "resultt", "nothing_like_it"])
    text = str(info.value)
    assert "output='resultt'" in text and "output='nothing_like_it'" in text
    assert "output='result'" not in text and "Pass output= one of: n, prompt, result, seed, steps" in text
    # a name that is not a string is refused before the run, not after it
    ran = []
    blocks = chain()
    blocks.sub_blocks["spy"] = leaf("Spy", fn=lambda bs: ran.append(1))
    with pytest.raises(TypeError, match=r"list of names \(strings\), not \['result', 1\]"):
        blocks.init_pipeline()(prompt="p", seed=1, output=["result", 1])
    assert ran == []


def test_output_may_name_inputs_declared_names_and_undeclared_writes():
    def direct(self, comps, state):
        state.set("extra", 7)  # diffusers-style direct write of an undeclared name
        return comps, state

    writer = type(leaf("Direct"))
    writer.__call__ = direct
    blocks = chain()
    blocks.sub_blocks["direct"] = writer()
    blocks.sub_blocks["opt"] = leaf("Opt", inputs=[InputParam("maybe")])
    pipe = blocks.init_pipeline()
    assert pipe(prompt="p", seed=1, output=["prompt", "steps", "maybe", "extra"]) == {
        "prompt": "p",
        "steps": 4,
        "maybe": None,
        "extra": 7,
    }


def test_defaults_apply_to_inputs_not_given():
    pipe = chain().init_pipeline()
    assert pipe(prompt="p", seed=0, output="result") == 40
    assert pipe(prompt="p", seed=0, steps=2, output="result") == 20


def test_caller_value_for_unproduced_intermediate_goes_to_intermediates():
    state = chain().init_pipeline()(prompt="p", seed=5)
    assert state.intermediates["seed"] == 5 and "seed" not in state.inputs


def test_unknown_keyword_suggests_the_close_name():
    with pytest.raises(UnknownInputError) as info:
        chain().init_pipeline()(prompt="p", seed=1, stpes=3)
    text = str(info.value)
    assert "'stpes'" in text and "Did you mean 'steps'" in text and "Accepted inputs:" in text


def test_all_missing_required_inputs_reported_before_anything_runs():
    ran = []
    first = leaf("First", fn=lambda bs: ran.append(1))
    blocks = chain()
    blocks.sub_blocks.insert("first", first, 0)
    with pytest.raises(MissingInputError) as info:
        blocks.init_pipeline()()
    err = info.value
    assert ran == []
    assert sorted(err.missing) == [("prep", "Prep", "prompt"), ("work", "Work", "seed")]
    text = str(err)
    assert "'prompt' is required by block 'prep' (Prep)" in text and "pass seed=..." in text


def test_missing_input_path_is_nested():
    inner = SequentialPipelineBlocks.from_blocks_dict(
        {"unet": leaf("Unet", inputs=[InputParam("latents", required=True)])}
    )
    outer = SequentialPipelineBlocks.from_blocks_dict({"denoise": inner})
    with pytest.raises(MissingInputError, match="'denoise.unet'"):
        outer.init_pipeline()()


def test_declared_output_not_set_is_an_error_naming_block_and_output():
    lazy = leaf("Lazy", outputs=[OutputParam("latents")])
    blocks = SequentialPipelineBlocks.from_blocks_dict({"ok": adder(), "lazy": lazy})
    with pytest.raises(MissingOutputError) as info:
        blocks.init_pipeline()(x=1)
    assert info.value.block_path == "lazy" and "'latents'" in str(info.value)
    assert info.value.state.intermediates["x"] == 2


def test_raising_block_wrapped_with_path_class_cause_and_partial_state():
    def explode(bs):
        raise RuntimeError("CUDA out of memory")

    boom = leaf("Boom", fn=explode)
    inner = SequentialPipelineBlocks.from_blocks_dict({"boom": boom})
    blocks = SequentialPipelineBlocks.from_blocks_dict({"add": adder(), "decode": inner})
    with pytest.raises(BlockExecutionError) as info:
        blocks.init_pipeline()(x=1)
    err = info.value
    assert err.block_path == "decode.boom" and err.block_class == "Boom"
    assert isinstance(err.__cause__, RuntimeError)
    assert "'decode.boom' (Boom)" in str(err) and "CUDA out of memory" in str(err)
    assert err.state.intermediates["x"] == 2


def test_undeclared_read_error_gives_a_hint():
    sneaky = leaf("Sneaky", fn=lambda bs: bs.not_declared)
    with pytest.raises(BlockExecutionError, match="InputParam\\('not_declared'\\)"):
        SequentialPipelineBlocks.from_blocks_dict({"s": sneaky}).init_pipeline()()


def test_given_state_is_reused():
    pipe = chain().init_pipeline()
    state = PipelineState()
    state.set_input("prompt", "p")
    out = pipe(state=state, seed=2)
    assert out is state and state.get("result") == 42


def test_pipeline_doc_and_repr():
    pipe = chain().init_pipeline()
    assert pipe.doc == pipe.blocks.doc
    assert "ModularPipeline(" in repr(pipe)


def test_repr_shows_nested_blocks_indented_and_the_manager():
    from diffblocks import ComponentsManager

    inner = SequentialPipelineBlocks.from_blocks_dict(
        {"one": adder("x", 1, "One"), "two": adder("x", 2, "Two")}
    )
    outer = SequentialPipelineBlocks.from_blocks_dict({"first": adder("x", 1, "Zero"), "inner": inner})
    text = repr(outer.init_pipeline(components_manager=ComponentsManager(), collection="c"))
    lines = text.splitlines()
    assert "    first: Zero" in lines and "    inner: SequentialPipelineBlocks" in lines
    assert "      one: One" in lines and "      two: Two" in lines  # one level deeper
    assert "  components manager: 0 components (collection 'c')" in lines
