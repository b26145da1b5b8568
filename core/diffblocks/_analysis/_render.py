"""The one renderer for block and pipeline text: ``repr`` and ``doc``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

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


def render_doc(block: ModularPipelineBlocks) -> str:
    parts = [f"class {type(block).__name__}"]
    if block.description:
        parts.append(_indent(block.description, "  "))
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
    from .._blocks._multi import AutoPipelineBlocks, _MultiBlocks

    cls = type(block)
    base = next(b.__name__ for b in cls.__mro__[1:] if not b.__name__.startswith("_"))
    lines = [f"{cls.__name__}(", f"  Class: {base}", ""]
    lines += _trigger_banner(block)
    desc = block.description
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
    if isinstance(block, _MultiBlocks):
        triggers: list[Any] = (
            list(block.block_trigger_inputs) if isinstance(block, AutoPipelineBlocks) else []
        )
        lines.append("  Sub-Blocks:")
        for i, (name, sub) in enumerate(block.sub_blocks.items()):
            tag = ""
            if isinstance(block, AutoPipelineBlocks) and i < len(triggers):
                tag = " [default]" if triggers[i] is None else f" [trigger: {triggers[i]}]"
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
