"""Pure-Python blocks: a number flows through add/multiply and is formatted as text."""

from __future__ import annotations

from typing import Any

from diffblocks import InputParam, LoopSequentialPipelineBlocks, OutputParam, PipelineBlock


class _ExampleBlock(PipelineBlock):
    model_name = "example"


class Number(_ExampleBlock):
    description = "Starts the flow: `x` is the given `value` as a float."

    @property
    def inputs(self) -> list[InputParam]:
        return [InputParam("value", float, required=True, description="the starting number")]

    @property
    def intermediate_outputs(self) -> list[OutputParam]:
        return [OutputParam("x", float, "the running value")]

    def __call__(self, components: Any, state: Any) -> Any:
        bs = self.get_block_state(state)
        bs.x = float(bs.value)
        self.set_block_state(state, bs)
        return components, state


class Add(_ExampleBlock):
    description = "Adds `amount` to `x`."

    @property
    def inputs(self) -> list[InputParam]:
        return [InputParam("amount", float, default=1.0, description="what to add")]

    @property
    def intermediate_inputs(self) -> list[InputParam]:
        return [InputParam("x", float, required=True, description="the running value")]

    @property
    def intermediate_outputs(self) -> list[OutputParam]:
        return [OutputParam("x", float, "the running value")]

    def __call__(self, components: Any, state: Any) -> Any:
        bs = self.get_block_state(state)
        bs.x = bs.x + bs.amount
        self.set_block_state(state, bs)
        return components, state


class Multiply(_ExampleBlock):
    description = "Multiplies `x` by `factor`."

    @property
    def inputs(self) -> list[InputParam]:
        return [InputParam("factor", float, default=2.0, description="what to multiply by")]

    @property
    def intermediate_inputs(self) -> list[InputParam]:
        return [InputParam("x", float, required=True, description="the running value")]

    @property
    def intermediate_outputs(self) -> list[OutputParam]:
        return [OutputParam("x", float, "the running value")]

    def __call__(self, components: Any, state: Any) -> Any:
        bs = self.get_block_state(state)
        bs.x = bs.x * bs.factor
        self.set_block_state(state, bs)
        return components, state


class Format(_ExampleBlock):
    description = "Formats `x` into `text` with a template."

    @property
    def inputs(self) -> list[InputParam]:
        return [
            InputParam("template", str, default="result: {x:g}", description="str.format template using {x}")
        ]

    @property
    def intermediate_inputs(self) -> list[InputParam]:
        return [InputParam("x", float, required=True, description="the running value")]

    @property
    def intermediate_outputs(self) -> list[OutputParam]:
        return [OutputParam("text", str, "the formatted result")]

    def __call__(self, components: Any, state: Any) -> Any:
        bs = self.get_block_state(state)
        bs.text = bs.template.format(x=bs.x)
        self.set_block_state(state, bs)
        return components, state


class _AddStep(PipelineBlock):
    @property
    def intermediate_inputs(self) -> list[InputParam]:
        return [InputParam("x", float, required=True)]

    def __call__(self, components: Any, block_state: Any, i: int) -> Any:
        block_state.x = block_state.x + block_state.amount
        return components, block_state


class RepeatAdd(LoopSequentialPipelineBlocks):
    """Adds `amount` to `x`, `times` times (a loop block)."""

    model_name = "example"
    block_classes = [_AddStep]
    block_names = ["add"]
    description = "Adds `amount` to `x`, `times` times."

    @property
    def loop_inputs(self) -> list[InputParam]:
        return [
            InputParam("times", int, default=3, description="how many times to add"),
            InputParam("amount", float, default=1.0, description="what to add"),
        ]

    @property
    def loop_intermediate_outputs(self) -> list[OutputParam]:
        return [OutputParam("x", float, "the running value")]

    def __call__(self, components: Any, state: Any) -> Any:
        bs = self.get_block_state(state)
        for i in range(bs.times):
            components, bs = self.loop_step(components, bs, i=i)
        self.set_block_state(state, bs)
        return components, state
