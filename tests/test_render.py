"""repr and doc: the seed's layout, real type names, defaults, components."""

from typing import Optional

from blockfactory import leaf
from diffblocks import ComponentSpec, ConfigSpec, InputParam, OutputParam, SequentialPipelineBlocks


class Unet:
    pass


def test_leaf_repr_lists_declarations_with_real_types():
    block = leaf(
        "Encode",
        inputs=[
            InputParam("prompt", Optional[list[str]], description="what to draw"),  # noqa: UP045
            InputParam("steps", int, default=30),
            InputParam("guidance", float, required=True),
        ],
        outputs=[OutputParam("latents", "torch.Tensor", "the latents")],
        components=[ComponentSpec("unet", Unet, "the denoiser")],
        description="Encodes\nin two lines",
    )
    text = repr(block)
    assert text.startswith("Encode(\n  Class: PipelineBlock")
    assert "Description: Encodes\n      in two lines" in text
    assert "prompt (`Optional[list[str]]`, *optional*):\n          what to draw" in text
    assert "steps (`int`, *optional*, defaults to 30)" in text
    assert "guidance (`float`, *required*)" in text
    assert "unet (`Unet`)" in text


def test_doc_has_components_configs_inputs_outputs_sections():
    block = leaf(
        "B",
        inputs=[InputParam("x", int)],
        outputs=[OutputParam("y", int)],
        components=[ComponentSpec("unet", Unet)],
    )
    type(block).expected_configs = property(lambda self: [ConfigSpec("flag", True, "a flag")])
    doc = SequentialPipelineBlocks.from_blocks_dict({"b": block}).doc
    assert doc.index("Components:") < doc.index("Configs:") < doc.index("Inputs:") < doc.index("Outputs:")
    assert "flag (default: True)\n          a flag" in doc


def test_kwargs_collector_prints_as_starred():
    block = leaf("K", inputs=[InputParam(kwargs_type="denoiser_input_fields")])
    assert "**denoiser_input_fields" in block.doc
