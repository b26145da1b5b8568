"""The data flow of a block tree: which block passes which value to which."""

from __future__ import annotations

from dataclasses import dataclass, field

from .._blocks._base import ModularPipelineBlocks
from .._blocks._plan import plan

INPUTS = "inputs"


@dataclass
class DataFlow:
    nodes: list[tuple[str, str, bool]] = field(default_factory=list)  # (path, class name, conditional)
    edges: list[tuple[str, str, str]] = field(default_factory=list)  # (from, to, value name)
    outputs: list[str] = field(default_factory=list)


def data_flow(blocks: ModularPipelineBlocks) -> DataFlow:
    flow = DataFlow()
    producer: dict[str, str] = {}
    for step in plan(blocks).steps:  # every branch; a conditional one drawn as such
        block = step.block
        node = step.path or type(block).__name__
        flow.nodes.append((node, type(block).__name__, step.conditional))
        for p in [*block.inputs, *block.intermediate_inputs]:
            if p.name:
                flow.edges.append((producer.get(p.name, INPUTS), node, p.name))
        for out in block.intermediate_outputs:
            producer[out.name] = node
    flow.outputs = [o.name for o in blocks.intermediate_outputs]
    return flow


def _id(name: str) -> str:
    return "n_" + "".join(c if c.isalnum() else "_" for c in name)


def render(flow: DataFlow, fmt: str = "mermaid") -> str:
    if fmt == "dot":
        lines = [
            "digraph pipeline {",
            "  rankdir=LR;",
            f'  {_id(INPUTS)} [label="pipeline inputs", shape=box];',
        ]
        for node, cls, cond in flow.nodes:
            style = ", style=dashed" if cond else ""
            lines.append(f'  {_id(node)} [label="{node}\\n({cls})"{style}];')
        for src, dst, value in flow.edges:
            lines.append(f'  {_id(src)} -> {_id(dst)} [label="{value}"];')
        lines.append("}")
        return "\n".join(lines)
    lines = ["flowchart LR", f'  {_id(INPUTS)}[["pipeline inputs"]]']
    for node, cls, cond in flow.nodes:
        shape = ("{{", "}}") if cond else ("[", "]")
        lines.append(f'  {_id(node)}{shape[0]}"{node} ({cls})"{shape[1]}')
    for src, dst, value in flow.edges:
        lines.append(f"  {_id(src)} -->|{value}| {_id(dst)}")
    return "\n".join(lines)
