"""The one renderer for block and pipeline text: ``repr`` and ``doc``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .._blocks._aggregate import same_value
from .._model._params import ComponentSpec, ConfigSpec, InputParam, OutputParam, type_hint_name

if TYPE_CHECKING:
    from .._blocks._base import ModularPipelineBlocks

_RULE = "  " + "=" * 78


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())


def _param_entry(param: InputParam | OutputParam) -> str:
    hint = type_hint_name(param.type_hint)
    if isinstance(param, InputParam):
        if param.required:
            flags = ", *required*"
        elif param.defaults_by_block:
            choices = " or ".join(repr(d) for d in _distinct(param.defaults_by_block.values()))
            flags = f", *optional*, defaults to {choices}, depending on the workflow"
        elif param.default is not None:
            flags = f", *optional*, defaults to {param.default!r}"
        else:
            flags = ", *optional*"
        name = param.name if param.name is not None else f"**{param.kwargs_type}"
    else:
        flags, name = "", param.name
    line = f"      {name} (`{hint}`{flags}):"
    if param.description:
        line += "\n" + _indent(param.description, "          ")
    return line


def _distinct(values: Iterable[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if not any(same_value(v, o) for o in out):
            out.append(v)
    return out


def _component_entry(spec: ComponentSpec) -> str:
    line = f"      {spec.name} (`{type_hint_name(spec.type_hint)}`)"
    if spec.description:
        line += "\n" + _indent(spec.description, "          ")
    return line


def _config_entry(spec: ConfigSpec) -> str:
    line = f"      {spec.name} (default: {spec.default!r})"
    if spec.description:
        line += "\n" + _indent(spec.description, "          ")
    return line


def _section(title: str, entries: Iterable[str]) -> str | None:
    entries = list(entries)
    if not entries:
        return None
    return f"  {title}:\n\n" + "\n\n".join(entries)


def pipeline_inputs(block: ModularPipelineBlocks) -> list[InputParam]:
    """What a caller may pass: inputs, then intermediate inputs nothing upstream produces."""
    seen: dict[str, InputParam] = {}
    for p in [*block.inputs, *block.intermediate_inputs]:
        seen.setdefault(p.name if p.name is not None else f"*{p.kwargs_type}", p)
    return list(seen.values())


def _description(block: ModularPipelineBlocks) -> str:
    """The block's description, then its named workflows if it has any."""
    text = block.description
    workflows: dict[str, Any] | None = getattr(block, "_workflow_map", None)  # multi-blocks only
    if not workflows:
        return text
    lines = ["Workflows:"]
    for name, triggers in workflows.items():
        spellings = triggers if isinstance(triggers, tuple) else (triggers,)
        needs = [", ".join(k for k, v in t.items() if v) for t in spellings]
        needs = [n for n in needs if n]
        lines.append(
            f"  - {name}: " + (f"give {' or '.join(needs)}" if needs else "the default (no extra inputs)")
        )
    return "\n\n".join(p for p in (text, "\n".join(lines)) if p)


def render_doc(block: ModularPipelineBlocks) -> str:
    parts = [f"class {type(block).__name__}"]
    desc = _description(block)
    if desc:
        parts.append(_indent(desc, "  "))
    for section in (
        _section("Components", map(_component_entry, block.expected_components)),
        _section("Configs", map(_config_entry, block.expected_configs)),
        _section("Inputs", map(_param_entry, pipeline_inputs(block))),
        _section("Outputs", map(_param_entry, block.intermediate_outputs)),
    ):
        if section is not None:
            parts.append(section)
    return "\n\n".join(parts)


def _trigger_banner(block: ModularPipelineBlocks) -> list[str]:
    triggers = block.trigger_inputs
    if not triggers:
        return []
    return [
        _RULE,
        "  Some blocks of this pipeline are chosen at run time from the inputs given.",
        f"  Trigger inputs: {triggers!r}",
        "  See what runs for given inputs with get_execution_blocks(), e.g.",
        f"  blocks.get_execution_blocks({triggers[0]!r})",
        _RULE,
        "",
    ]


def render_repr(block: ModularPipelineBlocks) -> str:
    cls = type(block)
    base = next(b.__name__ for b in cls.__mro__[1:] if not b.__name__.startswith("_"))
    lines = [f"{cls.__name__}(", f"  Class: {base}", ""]
    lines += _trigger_banner(block)
    desc = _description(block)
    first, *rest = desc.splitlines() or [""]
    lines.append(f"  Description: {first}")
    lines += [f"      {line}" if line else "" for line in rest]
    lines += ["", ""]
    for title, entries in (
        ("Components", [_component_entry(c) for c in block.expected_components]),
        ("Configs", [_config_entry(c) for c in block.expected_configs]),
    ):
        if entries:
            lines += [f"  {title}:", *entries, ""]
    rows = block._sub_block_rows()
    if rows is not None:
        lines.append("  Sub-Blocks:")
        for i, (name, sub, tag) in enumerate(rows):
            lines.append(f"    [{i}] {name} ({type(sub).__name__}){tag}")
            sub_first, *sub_rest = sub.description.splitlines() or [""]
            lines.append(f"       Description: {sub_first}")
            lines += [f"                    {line}" if line else "" for line in sub_rest]
            lines.append("")
    else:
        for title, params in (
            ("Inputs", block.inputs),
            ("Intermediate inputs", block.intermediate_inputs),
            ("Outputs", block.intermediate_outputs),
        ):
            if params:
                lines += [f"  {title}:", *(_param_entry(p) for p in params), ""]
    lines.append(")")
    return "\n".join(lines)
