"""Tiny block factories shared by the core tests (a plain module, not a conftest)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from diffblocks import InputParam, OutputParam, PipelineBlock


def leaf(
    name: str = "Leaf",
    inputs: list[InputParam] | None = None,
    intermediate_inputs: list[InputParam] | None = None,
    outputs: list[OutputParam] | None = None,
    fn: Callable[[Any], None] | None = None,
    components: list[Any] | None = None,
    description: str = "",
) -> PipelineBlock:
    """A leaf block instance whose __call__ runs ``fn(block_state)`` between get and set."""

    def call(self: PipelineBlock, comps: Any, state: Any) -> Any:
        bs = self.get_block_state(state)
        if fn is not None:
            fn(bs)
        self.set_block_state(state, bs)
        return comps, state

    cls = type(
        name,
        (PipelineBlock,),
        {
            "inputs": property(lambda self: list(inputs or [])),
            "intermediate_inputs": property(lambda self: list(intermediate_inputs or [])),
            "intermediate_outputs": property(lambda self: list(outputs or [])),
            "expected_components": property(lambda self: list(components or [])),
            "description": property(lambda self: description),
            "__call__": call,
        },
    )
    return cls()


def adder(var: str = "x", amount: int = 1, name: str = "Add") -> PipelineBlock:
    def fn(bs: Any) -> None:
        setattr(bs, var, getattr(bs, var) + amount)

    return leaf(
        name,
        intermediate_inputs=[InputParam(var, int, required=True)],
        outputs=[OutputParam(var, int)],
        fn=fn,
    )
