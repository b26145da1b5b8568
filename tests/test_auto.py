"""AutoPipelineBlocks: trigger selection, validation, required intersection, execution blocks."""

import pytest
from blockfactory import leaf
from diffblocks import (
    AutoPipelineBlocks,
    BlockDefinitionError,
    InputParam,
    OutputParam,
    SequentialPipelineBlocks,
)


def tagger(tag, *needs, required=()):
    return leaf(
        f"Tag_{tag}",
        inputs=[InputParam(n, required=n in required) for n in needs],
        outputs=[OutputParam("route")],
        fn=lambda bs: setattr(bs, "route", tag),
    )


class ImageAuto(AutoPipelineBlocks):
    block_classes = [
        type(tagger("inpaint", "mask_image", "image", "prompt", required=("prompt",))),
        type(tagger("img2img", "image", "prompt", required=("prompt",))),
        type(tagger("text2img", "prompt", required=("prompt",))),
    ]
    block_names = ["inpaint", "img2img", "text2img"]
    block_trigger_inputs = ["mask_image", "image", None]


def run(blocks, **kw):
    return blocks.init_pipeline()(output="route", **kw)


def test_first_present_trigger_selects_else_default():
    blocks = ImageAuto()
    assert run(blocks, prompt="p", mask_image="m", image="i") == "inpaint"
    assert run(blocks, prompt="p", image="i") == "img2img"
    assert run(blocks, prompt="p") == "text2img"


def test_falsy_values_count_as_present():
    blocks = ImageAuto()
    assert run(blocks, prompt="p", image=0) == "img2img"
    assert run(blocks, prompt="p", image=[]) == "img2img"


def test_without_default_nothing_runs_and_state_is_untouched():
    class NoDefault(AutoPipelineBlocks):
        block_classes = [type(tagger("img", "image"))]
        block_names = ["img"]
        block_trigger_inputs = ["image"]

    state = NoDefault().init_pipeline()()
    assert state.intermediates == {}
    assert NoDefault().required_inputs == []


def test_required_is_intersection_over_branches():
    assert ImageAuto().required_inputs == ["prompt"]


def test_trigger_list_errors_are_clear():
    with pytest.raises(BlockDefinitionError, match="2 entries for 1 sub-blocks"):
        type(
            "T",
            (AutoPipelineBlocks,),
            {"block_classes": [type(tagger("a"))], "block_names": ["a"], "block_trigger_inputs": ["x", None]},
        )()
    with pytest.raises(BlockDefinitionError, match="only the last entry may be None"):
        type(
            "T",
            (AutoPipelineBlocks,),
            {
                "block_classes": [type(tagger("a")), type(tagger("b"))],
                "block_names": ["a", "b"],
                "block_trigger_inputs": [None, "x"],
            },
        )()
    with pytest.raises(BlockDefinitionError, match="listed twice"):
        type(
            "T",
            (AutoPipelineBlocks,),
            {
                "block_classes": [type(tagger("a")), type(tagger("b"))],
                "block_names": ["a", "b"],
                "block_trigger_inputs": ["x", "x"],
            },
        )()


def test_from_blocks_dict_checks_triggers():
    class Two(AutoPipelineBlocks):
        block_trigger_inputs = ["image", None]

    blocks = Two.from_blocks_dict({"img": tagger("img", "image"), "txt": tagger("txt")})
    assert run(blocks, image=1) == "img"
    with pytest.raises(BlockDefinitionError):
        Two.from_blocks_dict({"only": tagger("x")})


def test_trigger_inputs_are_nested_and_banner_printed():
    pre = leaf("Pre", inputs=[InputParam("strength")])
    seq = SequentialPipelineBlocks.from_blocks_dict({"pre": pre, "auto": ImageAuto()})
    assert seq.trigger_inputs == ["mask_image", "image"]
    text = repr(seq)
    assert "Trigger inputs: ['mask_image', 'image']" in text
    assert "[trigger: mask_image]" in repr(ImageAuto()) and "[default]" in repr(ImageAuto())


def test_conditional_output_still_needs_caller_value():
    class MaybeMake(AutoPipelineBlocks):
        block_classes = [type(leaf("Make", inputs=[InputParam("image")], outputs=[OutputParam("latents")]))]
        block_names = ["make"]
        block_trigger_inputs = ["image"]

    use = leaf("Use", intermediate_inputs=[InputParam("latents", required=True)])
    seq = SequentialPipelineBlocks.from_blocks_dict({"maybe": MaybeMake(), "use": use})
    assert "latents" in [p.name for p in seq.intermediate_inputs]


def test_get_execution_blocks_resolves_recursively():
    def producer(name, out):
        return leaf(name, outputs=[OutputParam(out)], fn=lambda bs: setattr(bs, out, 1))

    class Inner(AutoPipelineBlocks):
        block_classes = [type(tagger("from_latents", "image_latents")), type(tagger("plain"))]
        block_names = ["from_latents", "plain"]
        block_trigger_inputs = ["image_latents", None]

    class Encode(AutoPipelineBlocks):
        block_classes = [type(producer("Encode", "image_latents"))]
        block_names = ["encode"]
        block_trigger_inputs = ["image"]

    seq = SequentialPipelineBlocks.from_blocks_dict({"encode": Encode(), "inner": Inner()})
    # a block an auto block chose is keyed by the auto block's name (issue #13, item 9)
    assert list(seq.get_execution_blocks("image").sub_blocks) == ["encode", "inner"]
    assert list(seq.get_execution_blocks().sub_blocks) == ["inner"]
    assert list(seq.get_execution_blocks(image=None).sub_blocks) == ["inner"]
    assert list(seq.get_execution_blocks(image="x").sub_blocks) == ["encode", "inner"]
    assert type(seq.get_execution_blocks("image").sub_blocks["inner"]).__name__ == "Tag_from_latents"
    assert type(seq.get_execution_blocks().sub_blocks["inner"]).__name__ == "Tag_plain"
