"""A misspelled declaration, or one written as a method, fails when the block class is defined,
with a message naming the class and the fix (``_blocks/_checks.py``)."""

import pytest
from diffblocks import (
    BlockDefinitionError,
    InputParam,
    LoopSequentialPipelineBlocks,
    OutputParam,
    PipelineBlock,
)


@pytest.mark.parametrize(
    "wrong, right",
    [
        ("input", "inputs"),
        ("outputs", "intermediate_outputs"),
        ("output", "intermediate_outputs"),
        ("intermediate_output", "intermediate_outputs"),
        ("intermediate_input", "intermediate_inputs"),
        ("expected_component", "expected_components"),
        ("components", "expected_components"),
    ],
)
def test_misspelled_declaration_names_the_block_and_the_fix(wrong, right):
    with pytest.raises(BlockDefinitionError) as info:
        type("Misspelled", (PipelineBlock,), {wrong: property(lambda self: [])})
    text = str(info.value)
    assert "Misspelled" in text and repr(wrong) in text and f"did you mean {right!r}" in text


def test_declaration_written_as_a_method():
    with pytest.raises(BlockDefinitionError, match=r"Broken.*inputs is defined as a method.*@property"):

        class Broken(PipelineBlock):
            def inputs(self):
                return [InputParam("x")]


def test_loop_declarations_are_checked_too():
    with pytest.raises(BlockDefinitionError, match="did you mean 'loop_inputs'"):

        class Loop(LoopSequentialPipelineBlocks):
            @property
            def loop_input(self):
                return []


def test_correct_blocks_and_helper_properties_are_left_alone():
    class Fine(PipelineBlock):
        description = "a class attribute is fine"
        inputs = [InputParam("x")]  # a plain list works as well as a property

        @property
        def intermediate_outputs(self):
            return [OutputParam("y")]

        @property
        def input_image(self):  # a helper whose name only resembles a declaration
            return None

        def helper(self):
            return 1

    assert Fine().output_names == ["y"]
