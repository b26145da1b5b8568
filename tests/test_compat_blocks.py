"""Modular Diffusers 0.42 compatibility, blocks and state half: reused states, the PipelineState
surface, conditional blocks, kwargs_type dicts, param templates, branch defaults,
get_execution_blocks keys, and the one plan of what runs. One test per behaviour, with our own
blocks; the ones at the top are written the way third-party 0.42 blocks are (only the import
line differs)."""

from __future__ import annotations

import pytest
from blockfactory import leaf
from diffblocks import (
    AutoPipelineBlocks,
    BlockDefinitionError,
    ComponentSpec,
    ConditionalPipelineBlocks,
    InputParam,
    MissingInputError,
    OutputParam,
    PipelineBlock,
    PipelineState,
    SequentialPipelineBlocks,
    UnknownInputError,
)


# -- a small 0.42-dialect pipeline: merged `inputs`, components.guider, state.set/get, ------------
# -- a conditional block that chooses by value --------------------------------------------------
class Guider:
    """Stands in for a guider created from its config (no weights)."""

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class TextEncoderStep(PipelineBlock):
    @property
    def inputs(self):
        return [InputParam.template("prompt"), InputParam.template("negative_prompt")]

    @property
    def intermediate_outputs(self):
        return [OutputParam.template("prompt_embeds"), OutputParam.template("negative_prompt_embeds")]

    def __call__(self, components, state):
        block_state = self.get_block_state(state)
        block_state.prompt_embeds = f"emb({block_state.prompt})"
        block_state.negative_prompt_embeds = f"emb({block_state.negative_prompt or ''})"
        self.set_block_state(state, block_state)
        return components, state


class InputStep(PipelineBlock):
    """Writes the state directly, as some 0.42 blocks do."""

    @property
    def inputs(self):
        return [InputParam.template("num_images_per_prompt"), InputParam("prompt_embeds", required=True)]

    @property
    def intermediate_outputs(self):
        return [OutputParam("batch_size", int)]

    def __call__(self, components, state):
        state.set("batch_size", state.get("num_images_per_prompt") * 2)
        return components, state


class ImageDenoise(PipelineBlock):
    @property
    def expected_components(self):
        return [ComponentSpec("guider", Guider, config={"scale": 3.0}, default_creation_method="from_config")]

    @property
    def inputs(self):
        return [
            InputParam.template("denoiser_input_fields"),
            InputParam("batch_size", int, required=True),
            InputParam.template("num_inference_steps"),
        ]

    @property
    def intermediate_outputs(self):
        return [OutputParam("result")]

    def __call__(self, components, state):
        block_state = self.get_block_state(state)
        fields = sorted(block_state.denoiser_input_fields)
        block_state.result = ("image", components.guider.scale, block_state.batch_size, fields)
        self.set_block_state(state, block_state)
        return components, state


class VideoDenoise(ImageDenoise):
    @property
    def inputs(self):
        return [*super().inputs, InputParam("num_frames", int)]

    def __call__(self, components, state):
        block_state = self.get_block_state(state)
        block_state.result = ("video", block_state.num_frames)
        self.set_block_state(state, block_state)
        return components, state


class DenoiseByFrames(ConditionalPipelineBlocks):
    block_classes = [ImageDenoise, VideoDenoise]
    block_names = ["image", "video"]
    block_trigger_inputs = ["num_frames"]
    default_block_name = "image"

    def select_block(self, num_frames=None):
        if num_frames is not None and num_frames > 1:
            return "video"
        return None


class Generate(SequentialPipelineBlocks):
    block_classes = [TextEncoderStep, InputStep, DenoiseByFrames]
    block_names = ["text_encoder", "input", "denoise"]


def test_a_pipeline_in_the_later_dialect_runs_unchanged():
    pipe = Generate().init_pipeline()
    out = pipe(prompt="a cat", num_images_per_prompt=2, output="result")
    assert out == ("image", 3.0, 4, ["negative_prompt_embeds", "prompt_embeds"])
    assert pipe(prompt="a cat", num_frames=8, output="result") == ("video", 8)
    # one frame is not a video: the choice is by value, and the checks before the run follow it
    assert pipe(prompt="a cat", num_frames=1, output="result")[0] == "image"


# -- 1. a reused state: the caller's value wins -----------------------------------------------
def _flag_blocks():
    normalize = leaf(
        "Normalize",
        inputs=[InputParam("flag")],
        outputs=[OutputParam("flag")],
        fn=lambda bs: setattr(bs, "flag", bool(bs.flag)),
    )
    route = leaf(
        "Route",
        inputs=[InputParam("flag")],
        outputs=[OutputParam("route")],
        fn=lambda bs: setattr(bs, "route", "on" if bs.flag else "off"),
    )
    return SequentialPipelineBlocks.from_blocks_dict({"normalize": normalize, "route": route})


def test_caller_value_wins_over_what_a_previous_run_left_in_the_state():
    pipe = _flag_blocks().init_pipeline()
    state = pipe(flag=True)
    assert state.get("route") == "on"
    state = pipe(state=state, flag=False)
    assert state.get("route") == "off" and state.get("flag") is False


def test_reused_state_keeps_its_values_where_the_caller_passes_none_of_them():
    block = leaf(
        "Scale",
        inputs=[InputParam("steps", int, default=50)],
        outputs=[OutputParam("seen")],
        fn=lambda bs: setattr(bs, "seen", bs.steps),
    )
    pipe = block.init_pipeline()
    state = pipe(steps=20)
    assert pipe(state=state, output="seen") == 20  # the state's 20, not the default 50
    assert pipe(output="seen") == 50


def test_passing_none_clears_a_value_the_previous_run_left():
    class Pick(AutoPipelineBlocks):
        block_classes = [
            type(leaf("Img", inputs=[InputParam("image")], outputs=[OutputParam("route")], fn=_route("img"))),
            type(leaf("Txt", outputs=[OutputParam("route")], fn=_route("txt"))),
        ]
        block_names = ["img2img", "text2img"]
        block_trigger_inputs = ["image", None]

    pipe = Pick().init_pipeline()
    state = pipe(image="x")
    assert state.get("route") == "img"
    assert pipe(state=state, image=None, output="route") == "txt"


def _route(tag):
    return lambda bs: setattr(bs, "route", tag)


# -- 4. PipelineState: the 0.42 surface and the first-release one ------------------------------
def test_state_has_the_later_api():
    state = PipelineState()
    state.set("latents", 1, kwargs_type="denoiser_input_fields")
    state.set_input("prompt", "a cat")
    state.set_input("guidance", 7.5, kwargs_type="denoiser_input_fields")
    assert state.get("latents") == 1 and state.latents == 1 and state.prompt == "a cat"
    assert state.get(["latents", "prompt", "nothing"]) == {"latents": 1, "prompt": "a cat", "nothing": None}
    assert state.get_by_kwargs("denoiser_input_fields") == {"guidance": 7.5, "latents": 1}
    assert dict(state.values) == {"latents": 1, "prompt": "a cat", "guidance": 7.5}
    assert state.kwargs_mapping == {"denoiser_input_fields": ["guidance", "latents"]}
    state.values["extra"] = 2  # writes through the view land in the intermediates
    assert state.intermediates["extra"] == 2
    text = repr(state)
    assert "latents: 1" in text and "prompt: 'a cat'" in text and "denoiser_input_fields" in text
    with pytest.raises(AttributeError, match="Did you mean 'latents'"):
        state.latent  # noqa: B018


def test_state_keeps_the_first_release_methods():
    state = PipelineState()
    state.add_input("prompt", "p")
    state.add_intermediate("latents", 3, "fields")
    assert state.get_input("prompt") == "p" and state.get_intermediate("latents") == 3
    assert state.get_inputs(["prompt"]) == {"prompt": "p"}
    assert state.get_intermediates(["latents"]) == {"latents": 3}
    assert state.get_intermediates_kwargs("fields") == {"latents": 3}
    assert state.to_dict()["inputs"] == {"prompt": "p"} and state.to_dict()["values"]["latents"] == 3


# -- 5. ConditionalPipelineBlocks and AutoPipelineBlocks.select_block --------------------------
class BySize(ConditionalPipelineBlocks):
    block_classes = [
        type(leaf("Small", inputs=[InputParam("size")], outputs=[OutputParam("route")], fn=_route("small"))),
        type(leaf("Large", inputs=[InputParam("size")], outputs=[OutputParam("route")], fn=_route("large"))),
    ]
    block_names = ["small", "large"]
    block_trigger_inputs = ["size"]

    def select_block(self, size=None):
        if size is None:
            return None
        return "large" if size > 100 else "small"


def test_conditional_block_runs_what_select_block_names_and_skips_on_none():
    pipe = BySize().init_pipeline()
    assert pipe(size=500, output="route") == "large"
    assert pipe(size=5, output="route") == "small"
    state = pipe()  # no default: nothing runs, the state is untouched
    assert state.intermediates == {}
    assert BySize().required_inputs == []


def test_conditional_block_falls_back_to_its_default_block():
    class WithDefault(BySize):
        default_block_name = "small"

    assert WithDefault().init_pipeline()(output="route") == "small"
    assert "[default]" in repr(WithDefault()) and "small (Small) [default]" in repr(WithDefault())


def test_auto_select_block_returns_the_name_its_triggers_pick():
    class Pick(AutoPipelineBlocks):
        block_classes = [type(leaf("A", inputs=[InputParam("mask")])), type(leaf("B"))]
        block_names = ["inpaint", "text2img"]
        block_trigger_inputs = ["mask", None]

    pick = Pick()
    assert pick.select_block(mask="m") == "inpaint"
    assert pick.select_block(mask=None) is None and pick.select_block() is None
    assert pick.default_block_name == "text2img"


def test_conditional_definition_errors_say_what_to_do():
    with pytest.raises(BlockDefinitionError, match="Did you mean 'large'"):
        type("Bad", (BySize,), {"default_block_name": "larg"})()
    with pytest.raises(BlockDefinitionError, match="must override select_block"):
        type(
            "NoSelect",
            (ConditionalPipelineBlocks,),
            {"block_classes": [type(leaf("A"))], "block_names": ["a"]},
        )()
    with pytest.raises(BlockDefinitionError, match="put None as the last trigger"):
        type(
            "AutoWithDefault",
            (AutoPipelineBlocks,),
            {
                "block_classes": [type(leaf("A"))],
                "block_names": ["a"],
                "block_trigger_inputs": ["x"],
                "default_block_name": "a",
            },
        )()


def test_select_block_naming_no_sub_block_is_an_error_naming_the_block():
    class Wrong(BySize):
        def select_block(self, size=None):
            return "lrage"

    with pytest.raises(
        BlockDefinitionError, match=r"Wrong.select_block returned 'lrage'.*Did you mean 'large'"
    ):
        Wrong().init_pipeline()(size=1)


def test_conditional_blocks_are_public():
    import diffblocks

    assert "ConditionalPipelineBlocks" in diffblocks.__all__
    assert issubclass(AutoPipelineBlocks, ConditionalPipelineBlocks)


# -- 6. a dict under a kwargs_type name is spread into tagged values ---------------------------
def test_kwargs_type_dict_is_spread_into_the_values_it_holds():
    seen = {}

    def grab(bs):
        seen.update(bs.denoiser_input_fields)
        seen["own"] = bs.a

    block = leaf("Collect", inputs=[InputParam(kwargs_type="denoiser_input_fields")], fn=grab)
    state = block.init_pipeline()(denoiser_input_fields={"a": 1, "b": 2})
    assert seen == {"a": 1, "b": 2, "own": 1}
    assert state.get_by_kwargs("denoiser_input_fields") == {"a": 1, "b": 2}
    with pytest.raises(TypeError, match="must be a dict"):
        block.init_pipeline()(denoiser_input_fields=[1, 2])


def test_unknown_inputs_stay_an_error_with_a_suggestion():
    # diffusers warns and ignores an undeclared input; diffblocks refuses it on purpose
    block = leaf("Collect", inputs=[InputParam(kwargs_type="denoiser_input_fields")])
    with pytest.raises(UnknownInputError, match="Did you mean 'denoiser_input_fields'"):
        block.init_pipeline()(denoiser_input_field={"a": 1})


# -- 7. param templates and metadata -----------------------------------------------------------
def test_param_templates_give_shared_names_types_and_defaults():
    prompt = InputParam.template("prompt")
    assert (prompt.name, prompt.type_hint, prompt.required) == ("prompt", str, True)
    steps = InputParam.template("num_inference_steps", note="fewer is faster")
    assert steps.default == 50 and steps.description.endswith("(fewer is faster)")
    renamed = InputParam.template("image", name="control_frames", required=False)
    assert renamed.name == "control_frames" and renamed.required is False
    fields = InputParam.template("denoiser_input_fields")
    assert fields.name is None and fields.kwargs_type == "denoiser_input_fields"
    embeds = OutputParam.template("prompt_embeds")
    assert embeds.name == "prompt_embeds" and embeds.kwargs_type == "denoiser_input_fields"
    with pytest.raises(BlockDefinitionError, match="Did you mean 'prompt'"):
        InputParam.template("promt")
    with pytest.raises(BlockDefinitionError, match="no OutputParam template named 'image'"):
        OutputParam.template("image")


def test_params_carry_metadata():
    param = InputParam("seed", int, metadata={"ui": "slider"})
    assert param.metadata == {"ui": "slider"}
    assert OutputParam("image", metadata={"mime": "image/png"}).metadata == {"mime": "image/png"}
    assert InputParam.template("height", metadata={"min": 64}).metadata == {"min": 64}


# -- 8. branches with their own defaults --------------------------------------------------------
def _strength_user(name, default):
    return leaf(
        name,
        inputs=[InputParam("strength", float, default=default), InputParam("image")],
        outputs=[OutputParam("used")],
        fn=lambda bs: setattr(bs, "used", bs.strength),
    )


class ImageWork(AutoPipelineBlocks):
    block_classes = [type(_strength_user("Inpaint", 0.9999)), type(_strength_user("Img2Img", 0.3))]
    block_names = ["inpaint", "img2img"]
    block_trigger_inputs = ["mask_image", "image"]


def test_chosen_branch_runs_with_its_own_default_and_the_state_has_it():
    blocks = SequentialPipelineBlocks.from_blocks_dict(
        {"mask": leaf("Mask", inputs=[InputParam("mask_image")]), "work": ImageWork()}
    )
    pipe = blocks.init_pipeline()
    state = pipe(image="x", mask_image="m")
    assert state.get("used") == 0.9999 and state.get("strength") == 0.9999
    state = pipe(image="x")
    assert state.get("used") == 0.3 and state.get("strength") == 0.3
    assert pipe(image="x", mask_image="m", strength=0.5, output="used") == 0.5


def test_doc_lists_each_branch_default_and_defaults_by_block_names_them():
    strength = next(p for p in ImageWork().inputs if p.name == "strength")
    assert strength.default is None
    assert strength.defaults_by_block == {"inpaint": 0.9999, "img2img": 0.3}
    assert "strength (`float`, *optional*, defaults to 0.9999 or 0.3, depending on the workflow)" in (
        ImageWork().doc
    )

    class Outer(AutoPipelineBlocks):
        block_classes = [ImageWork, type(_strength_user("Text", 1.0))]
        block_names = ["image", "text"]
        block_trigger_inputs = ["image", None]

    nested = next(p for p in Outer().inputs if p.name == "strength")
    assert nested.defaults_by_block == {"image.inpaint": 0.9999, "image.img2img": 0.3, "text": 1.0}


# -- 9. get_execution_blocks -----------------------------------------------------------------
def _tree():
    def step(name):
        return leaf(name, inputs=[InputParam("mask_image")], outputs=[OutputParam(name.lower())])

    inpaint = SequentialPipelineBlocks.from_blocks_dict(
        {"prepare": step("Prepare"), "denoise": step("Denoise")}
    )

    class Generation(AutoPipelineBlocks):
        block_classes = [inpaint, type(step("Text2Img"))]
        block_names = ["inpaint", "text2img"]
        block_trigger_inputs = ["mask_image", None]

    return SequentialPipelineBlocks.from_blocks_dict(
        {"text_encoder": step("Encode"), "image-generation": Generation()}
    )


def test_execution_blocks_are_keyed_by_the_auto_block_that_chose_them():
    tree = _tree()
    assert list(tree.get_execution_blocks().sub_blocks) == ["text_encoder", "image-generation"]
    assert type(tree.get_execution_blocks().sub_blocks["image-generation"]).__name__ == "Text2Img"
    # a chosen sequence is resolved to its own blocks
    assert list(tree.get_execution_blocks("mask_image").sub_blocks) == ["text_encoder", "prepare", "denoise"]


def test_execution_blocks_of_an_auto_block_is_the_chosen_block():
    generation = _tree().sub_blocks["image-generation"]
    chosen = generation.get_execution_blocks()
    assert type(chosen).__name__ == "Text2Img"
    assert list(generation.get_execution_blocks(mask_image="m").sub_blocks) == ["prepare", "denoise"]
    assert BySize().get_execution_blocks() is None  # nothing would run
    assert type(BySize().get_execution_blocks(size=1000)).__name__ == "Large"


# -- the one plan of what runs ----------------------------------------------------------------
def test_checks_before_a_run_follow_the_branch_a_value_chooses():
    needs_scale = leaf("Large", inputs=[InputParam("size"), InputParam("scale", required=True)])

    class Sized(BySize):
        block_classes = [BySize.block_classes[0], type(needs_scale)]

    pipe = Sized().init_pipeline()
    assert pipe(size=5, output="route") == "small"
    with pytest.raises(MissingInputError, match="'scale' is required by block 'large'"):
        pipe(size=500)


def test_graph_validation_and_repr_see_every_branch():
    from diffblocks._analysis._graph import data_flow

    tree = _tree()
    flow = data_flow(tree)
    conditional = {node: cond for node, _, cond in flow.nodes}
    assert conditional == {
        "text_encoder": False,
        "image-generation.inpaint.prepare": True,
        "image-generation.inpaint.denoise": True,
        "image-generation.text2img": True,
    }
    assert tree.validate().pipeline_inputs == ["mask_image"]
    assert "[0] inpaint (SequentialPipelineBlocks) [trigger: mask_image]" in repr(
        tree.sub_blocks["image-generation"]
    )
    assert [path for path, _ in tree.walk()] == [
        "text_encoder",
        "image-generation",
        "image-generation.inpaint",
        "image-generation.inpaint.prepare",
        "image-generation.inpaint.denoise",
        "image-generation.text2img",
    ]


# -- named workflows and a described from_blocks_dict -------------------------------------------
def test_named_workflows_resolve_to_the_blocks_that_run():
    class Named(SequentialPipelineBlocks):
        block_classes = [type(leaf("Encode")), type(_tree().sub_blocks["image-generation"])]
        block_names = ["encode", "generate"]
        _workflow_map = {"inpainting": {"mask_image": True}, "text2image": {}}

    blocks = Named()
    assert blocks.available_workflows == ["inpainting", "text2image"]
    assert list(blocks.get_workflow("inpainting").sub_blocks) == ["encode", "prepare", "denoise"]
    assert list(blocks.get_workflow("text2image").sub_blocks) == ["encode", "generate"]
    with pytest.raises(ValueError, match="Did you mean 'inpainting'"):
        blocks.get_workflow("inpaint")
    with pytest.raises(NotImplementedError, match="_workflow_map"):
        _tree().available_workflows  # noqa: B018
    assert "  - inpainting: give mask_image" in blocks.doc
    assert "  - text2image: the default (no extra inputs)" in repr(blocks)


def test_from_blocks_dict_takes_a_description():
    blocks = SequentialPipelineBlocks.from_blocks_dict({"a": leaf("A")}, description="Does A.")
    assert blocks.description == "Does A." and "Description: Does A." in repr(blocks)


def test_a_choice_on_a_value_made_during_the_run_waits_for_the_run():
    make = leaf("Make", outputs=[OutputParam("frames")], fn=lambda bs: setattr(bs, "frames", [1, 2, 3]))

    class ByCount(ConditionalPipelineBlocks):
        block_classes = [
            type(
                leaf("One", inputs=[InputParam("frames")], outputs=[OutputParam("route")], fn=_route("one"))
            ),
            type(
                leaf("Many", inputs=[InputParam("frames")], outputs=[OutputParam("route")], fn=_route("many"))
            ),
        ]
        block_names = ["one", "many"]
        block_trigger_inputs = ["frames"]
        default_block_name = "one"

        def select_block(self, frames=None):
            return "many" if frames is not None and len(frames) > 1 else None  # needs the real value

    blocks = SequentialPipelineBlocks.from_blocks_dict({"make": make, "pick": ByCount()})
    assert blocks.init_pipeline()(output="route") == "many"
    # before any run, only "present" is known for frames: select_block fails, and says where
    with pytest.raises(Exception, match=r"'pick' \(ByCount.select_block\) raised TypeError"):
        blocks.get_execution_blocks()
