"""The seed document's example, run with only its import line changed, and its data flow."""

import torch
from diffblocks import InputParam, OutputParam, PipelineBlock


def make_block(inputs=[], intermediate_inputs=[], intermediate_outputs=[], block_fn=None, description=None):
    class TestBlock(PipelineBlock):
        model_name = "test"

        @property
        def inputs(self):
            return inputs

        @property
        def intermediate_inputs(self):
            return intermediate_inputs

        @property
        def intermediate_outputs(self):
            return intermediate_outputs

        @property
        def description(self):
            return description if description is not None else ""

        def __call__(self, components, state):
            block_state = self.get_block_state(state)
            if block_fn is not None:
                block_state = block_fn(block_state, state)
            self.set_block_state(state, block_state)
            return components, state

    return TestBlock


def input_block_fn(block_state, pipeline_state):

    batch_size = len(block_state.prompt)
    block_state.batch_size = batch_size * block_state.num_images_per_prompt

    return block_state


input_block_cls = make_block(
    inputs=[
        InputParam(name="prompt", type_hint=list, description="list of text prompts"),
        InputParam(name="num_images_per_prompt", type_hint=int, description="number of images per prompt"),
    ],
    intermediate_outputs=[OutputParam(name="batch_size", description="calculated batch size")],
    block_fn=input_block_fn,
    description="A block that determines batch_size based on the number of prompts and num_images_per_prompt argument.",
)
input_block = input_block_cls()


def image_encoder_block_fn(block_state, pipeline_state):
    # Simulate processing the image
    block_state.image = torch.randn(1, 3, 512, 512)
    block_state.batch_size = block_state.batch_size * 2
    block_state.image_latents = torch.randn(1, 4, 64, 64)
    return block_state


image_encoder_block_cls = make_block(
    inputs=[InputParam(name="image", type_hint="PIL.Image", description="raw input image to process")],
    intermediate_inputs=[InputParam(name="batch_size", type_hint=int)],
    intermediate_outputs=[OutputParam(name="image_latents", description="latents representing the image")],
    block_fn=image_encoder_block_fn,
    description="Encode raw image into its latent presentation",
)
image_encoder_block = image_encoder_block_cls()

from diffblocks import InsertableDict, SequentialPipelineBlocks  # noqa: E402

# Define a dict mapping block names to block instances
blocks_dict = InsertableDict()
blocks_dict["input"] = input_block
blocks_dict["image_encoder"] = image_encoder_block

# Create the SequentialPipelineBlocks
blocks = SequentialPipelineBlocks.from_blocks_dict(blocks_dict)

# --------------------------------------------------------------------------------------------


EXPECTED_REPR = """\
SequentialPipelineBlocks(
  Class: ModularPipelineBlocks

  Description: 


  Sub-Blocks:
    [0] input (TestBlock)
       Description: A block that determines batch_size based on the number of prompts and num_images_per_prompt argument.

    [1] image_encoder (TestBlock)
       Description: Encode raw image into its latent presentation

)"""

EXPECTED_DOC = """\
class SequentialPipelineBlocks

  Inputs:

      prompt (`list`, *optional*):
          list of text prompts

      num_images_per_prompt (`int`, *optional*):
          number of images per prompt

      image (`PIL.Image`, *optional*):
          raw input image to process

  Outputs:

      batch_size (`None`):
          calculated batch size

      image_latents (`None`):
          latents representing the image"""


def test_repr_follows_the_seed_layout():
    assert repr(blocks) == EXPECTED_REPR


def test_doc_lists_inputs_and_outputs_and_not_batch_size_as_input():
    assert blocks.doc == EXPECTED_DOC
    assert "batch_size" not in [p.name for p in blocks.inputs + blocks.intermediate_inputs]
    assert [o.name for o in blocks.intermediate_outputs] == ["batch_size", "image_latents"]


def test_data_flow_through_a_pipeline():
    pipe = blocks.init_pipeline()
    prompts = ["a cat", "a dog"]
    state = pipe(prompt=prompts, num_images_per_prompt=3, image="raw-image")
    # batch_size produced by the first block, then modified and written back by the second
    assert state.intermediates["batch_size"] == 2 * 3 * 2
    assert tuple(state.intermediates["image_latents"].shape) == (1, 4, 64, 64)
    # inputs are untouched: the second block rebinding `image` does not reach state.inputs
    assert state.inputs["image"] == "raw-image"
    assert state.inputs["prompt"] is prompts and prompts == ["a cat", "a dog"]
    assert "image" not in state.intermediates
    assert "batch_size" not in state.inputs


def test_batch_size_is_not_asked_from_the_caller():
    pipe = blocks.init_pipeline()
    out = pipe(prompt=["x"], num_images_per_prompt=1, output="batch_size")
    assert out == 2
