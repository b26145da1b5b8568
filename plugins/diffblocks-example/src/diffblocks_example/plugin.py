"""Hook implementations of diffblocks-example: a workflow block, an auto block and a family."""

from __future__ import annotations

from diffblocks import AutoPipelineBlocks, InputParam, ModelFamily, SequentialPipelineBlocks, hookimpl

from .blocks import Add, Format, Multiply, Number


class Arithmetic(SequentialPipelineBlocks):
    """number -> add -> multiply -> format."""

    model_name = "example"
    block_classes = [Number, Add, Multiply, Format]
    block_names = ["number", "add", "multiply", "format"]
    description = "Computes (value + amount) * factor and formats it."


class MultiplyBy(Multiply):
    """Multiply with no default factor: a default would make the factor trigger always fire."""

    @property
    def inputs(self):
        return [InputParam("factor", float, description="what to multiply by")]


class AddOrMultiply(AutoPipelineBlocks):
    model_name = "example"
    block_classes = [MultiplyBy, Add]
    block_names = ["multiply", "add"]
    block_trigger_inputs = ["factor", None]
    description = "Multiplies when `factor` is given, else adds."


@hookimpl
def register_blocks(registry):
    registry.register("example.arith", Arithmetic)
    registry.register("example.add_or_multiply", AddOrMultiply)


@hookimpl
def register_families(registry):
    registry.register(
        ModelFamily(
            name="example",
            description="Pure-Python arithmetic blocks that show how plugins work.",
            workflows={"arith": "example.arith"},
        )
    )
