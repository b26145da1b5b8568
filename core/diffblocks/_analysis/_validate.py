"""Static checks of a block tree, run at composition time, before any compute."""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Any

from .._blocks._base import ModularPipelineBlocks
from .._blocks._plan import caller_inputs, plan
from .._model._errors import CompositionError, Problem
from .._model._params import InputParam, type_hint_name


@dataclass
class ValidationReport:
    """What a valid pipeline asks from its caller."""

    pipeline_inputs: list[str] = field(default_factory=list)
    required_inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)


def _compatible(produced: Any, wanted: Any) -> bool:
    """False only when both hints are plain classes that clearly cannot match."""
    if not isinstance(produced, type) or not isinstance(wanted, type):
        return True  # strings, typing constructs, None: not clear enough to judge
    if object in (produced, wanted) or issubclass(produced, wanted) or issubclass(wanted, produced):
        return True
    return issubclass(produced, numbers.Number) and issubclass(wanted, numbers.Number)


def validate(blocks: ModularPipelineBlocks) -> ValidationReport:
    """Check ``blocks``; raise :class:`CompositionError` listing every problem, else report."""
    problems: list[Problem] = []
    every = plan(blocks)  # every branch of every conditional block
    # output shadowing and type conflicts, walking the data flow in run order
    last_producer: dict[str, tuple[str, Any, bool]] = {}  # name -> (path, hint, read since)
    for step in every.steps:
        path, block, always = step.path, step.block, not step.conditional
        reads: dict[str, InputParam] = {
            p.name: p for p in [*block.inputs, *block.intermediate_inputs] if p.name
        }
        for name, param in reads.items():
            if name in last_producer:
                ppath, hint, _ = last_producer[name]
                last_producer[name] = (ppath, hint, True)
                if not _compatible(hint, param.type_hint):
                    problems.append(
                        Problem(
                            "type-conflict",
                            path,
                            name,
                            f"{ppath!r} produces {name!r} as {type_hint_name(hint)} but this block expects "
                            f"{type_hint_name(param.type_hint)}; convert it in between or fix one declaration.",
                        )
                    )
        for out in block.intermediate_outputs:
            previous = last_producer.get(out.name)
            deliberate = getattr(out, "replaces", False)  # OutputParam(replaces=True)
            if (
                previous is not None
                and not previous[2]
                and out.name not in reads
                and always
                and not deliberate
            ):
                problems.append(
                    Problem(
                        "shadowed-output",
                        path,
                        out.name,
                        f"overwrites {out.name!r} from {previous[0]!r} before any block reads it; rename one "
                        f"output or remove the earlier block.",
                    )
                )
            last_producer[out.name] = (path, out.type_hint, False)
    # conditional blocks whose triggers can never or will always fire
    accepted = caller_inputs(blocks)
    produced = {o.name for step in every.steps for o in step.block.intermediate_outputs}
    defaults = {p.name: p.default for p in [*blocks.inputs, *blocks.intermediate_inputs] if p.name}
    for path, sub in every.choices:
        for trigger, name in sub._trigger_branches():
            where = ".".join(p for p in (path, name) if p)
            if trigger not in accepted and trigger not in produced:
                problems.append(
                    Problem(
                        "unreachable-branch",
                        where,
                        trigger,
                        f"trigger {trigger!r} is neither a pipeline input nor produced by a block, so this "
                        f"branch can never run; declare {trigger!r} as an input of some block.",
                    )
                )
            elif name is not None and defaults.get(trigger) is not None:
                problems.append(
                    Problem(
                        "trigger-has-default",
                        where,
                        trigger,
                        f"trigger {trigger!r} has default {defaults[trigger]!r}, so this branch always runs; "
                        f"remove the default from the input declaration.",
                    )
                )
    if problems:
        raise CompositionError(problems)
    params = [*blocks.inputs, *blocks.intermediate_inputs]
    return ValidationReport(
        pipeline_inputs=list(dict.fromkeys(p.name for p in params if p.name)),
        required_inputs=list(
            dict.fromkeys(p.name for p in params if p.name and p.required and p.default is None)
        ),
        outputs=[o.name for o in blocks.intermediate_outputs],
    )
