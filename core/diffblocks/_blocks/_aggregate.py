"""The one aggregation routine: what a multi-block declares, derived from its sub-blocks."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .._model._params import ComponentSpec, ConfigSpec, InputParam, OutputParam

if TYPE_CHECKING:
    from ._base import ModularPipelineBlocks


class DefaultConflictWarning(UserWarning):
    """Two sub-blocks give the same input different non-None defaults; the first one wins."""


@dataclass
class Declarations:
    inputs: list[InputParam] = field(default_factory=list)
    intermediate_inputs: list[InputParam] = field(default_factory=list)
    intermediate_outputs: list[OutputParam] = field(default_factory=list)
    expected_components: list[ComponentSpec] = field(default_factory=list)
    expected_configs: list[ConfigSpec] = field(default_factory=list)
    trigger_inputs: list[str] = field(default_factory=list)
    always_outputs: frozenset[str] = frozenset()
    #: conditional blocks: branch name -> the defaults it applies itself when chosen, for the
    #: inputs whose branches disagree: (name, default, is an intermediate input, kwargs_type)
    branch_defaults: dict[str, tuple[tuple[str, Any, bool, str | None], ...]] = field(default_factory=dict)


class _ParamMerger:
    """Merges InputParams by name, first wins, without mutating any param object."""

    def __init__(self) -> None:
        self.params: dict[str, InputParam] = {}
        self.owners: dict[str, str] = {}
        self.by_branch: dict[str, dict[str, Any]] = {}  # branch params: name -> {branch: default}
        self.split: set[str] = set()  # names whose branch defaults disagree

    def add(self, param: InputParam, owner: str, required: bool | None = None, branch: bool = False) -> None:
        """``branch``: params of alternative (conditional) branches. Where their defaults disagree
        the merged param has no default and ``defaults_by_block`` lists each branch's, so the
        branch that runs applies its own."""
        key = param.name if param.name is not None else f"*{param.kwargs_type}"
        req = param.required if required is None else required
        have = self.params.get(key)
        if branch:
            mine = (
                {f"{owner}.{k}": v for k, v in param.defaults_by_block.items()}
                if param.defaults_by_block
                else {owner: param.default}
            )
            seen = self.by_branch.setdefault(key, {})
            seen.update(mine)
        if have is None:
            changes: dict[str, Any] = {} if req == param.required else {"required": req}
            if branch and param.defaults_by_block:
                changes["defaults_by_block"] = dict(seen)  # nested branches, named from here
            self.params[key] = replace(param, **changes) if changes else param
            self.owners[key] = owner
            return
        changes = {}
        if req and not have.required:
            changes["required"] = True
        if branch:
            first, *others = seen.values()
            if any(not same_value(first, d) for d in others):
                self.split.add(key)
                changes["default"] = None
                changes["defaults_by_block"] = dict(seen)
        elif have.defaults_by_block is not None:
            pass  # the branches of a conditional block bring their own defaults
        elif have.default is None and param.default is not None:
            changes["default"] = param.default
            self.owners[key] = owner
        elif param.default is not None and not same_value(have.default, param.default):
            warnings.warn(
                f"input {key!r} has default {have.default!r} in block {self.owners[key]!r} and "
                f"{param.default!r} in block {owner!r}; using {have.default!r}. Give both blocks "
                f"the same default, or pass {key}=... explicitly.",
                DefaultConflictWarning,
                stacklevel=4,
            )
        if changes:
            self.params[key] = replace(have, **changes)

    def result(self) -> list[InputParam]:
        return list(self.params.values())


def same_value(a: Any, b: Any) -> bool:
    """Whether two defaults are the same value (arrays and tensors: only when identical)."""
    if a is b:
        return True
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:  # arrays and tensors compare elementwise
        return False


def _unique_by_name(items: Iterable[Any]) -> list[Any]:
    out: dict[str, Any] = {}
    for item in items:
        out.setdefault(item.name, item)
    return list(out.values())


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))


def aggregate_sequential(
    blocks: Sequence[tuple[str, ModularPipelineBlocks]], head: ModularPipelineBlocks | None = None
) -> Declarations:
    """Sequential aggregation; ``head`` is a loop wrapper's own declarations (not a producer)."""
    ins, inter = _ParamMerger(), _ParamMerger()
    produced: set[str] = set()
    outputs: list[OutputParam] = []
    if head is not None:
        for p in head.loop_inputs:  # type: ignore[attr-defined]
            ins.add(p, "<loop>")
        for p in head.loop_intermediate_inputs:  # type: ignore[attr-defined]
            inter.add(p, "<loop>")
        outputs.extend(head.loop_intermediate_outputs)  # type: ignore[attr-defined]
    for name, block in blocks:
        for p in block.inputs:
            if p.name is None or p.name not in produced:
                ins.add(p, name)
        for p in block.intermediate_inputs:
            if p.name is None or p.name not in produced:
                inter.add(p, name)
        outputs.extend(block.intermediate_outputs)
        produced |= block._always_outputs()
    outs = _unique_by_name(outputs)
    always = frozenset(produced)
    if head is not None:
        always = frozenset(o.name for o in outs)
    return Declarations(
        inputs=ins.result(),
        intermediate_inputs=inter.result(),
        intermediate_outputs=outs,
        expected_components=_unique_by_name(
            [
                *(head.loop_expected_components if head is not None else []),  # type: ignore[attr-defined]
                *(c for _, b in blocks for c in b.expected_components),
            ]
        ),
        expected_configs=_unique_by_name(
            [
                *(head.loop_expected_configs if head is not None else []),  # type: ignore[attr-defined]
                *(c for _, b in blocks for c in b.expected_configs),
            ]
        ),
        trigger_inputs=_unique(t for _, b in blocks for t in b.trigger_inputs),
        always_outputs=always,
    )


def aggregate_conditional(
    blocks: Sequence[tuple[str, ModularPipelineBlocks]], triggers: Sequence[str | None], has_default: bool
) -> Declarations:
    """Union of branches; an input is required only if every branch needs it and one always runs
    (there is a default branch)."""
    ins, inter = _ParamMerger(), _ParamMerger()

    def required_everywhere(attr: str) -> set[str]:
        if not has_default or not blocks:
            return set()
        sets = [{p.name for p in getattr(b, attr) if p.required and p.name} for _, b in blocks]
        return set.intersection(*sets)

    req_in = required_everywhere("inputs")
    req_inter = required_everywhere("intermediate_inputs")
    for name, block in blocks:
        for p in block.inputs:
            ins.add(p, name, required=p.name in req_in, branch=True)
        for p in block.intermediate_inputs:
            inter.add(p, name, required=p.name in req_inter, branch=True)
    always: frozenset[str] = frozenset()
    if has_default and blocks:
        always = frozenset.intersection(*(b._always_outputs() for _, b in blocks))
    branch_defaults = {
        name: tuple(
            (p.name, p.default, is_inter, p.kwargs_type)
            for params, merger, is_inter in (
                (block.inputs, ins, False),
                (block.intermediate_inputs, inter, True),
            )
            for p in params
            if p.name is not None and p.default is not None and p.name in merger.split
        )
        for name, block in blocks
    }
    return Declarations(
        inputs=ins.result(),
        intermediate_inputs=inter.result(),
        intermediate_outputs=_unique_by_name(o for _, b in blocks for o in b.intermediate_outputs),
        expected_components=_unique_by_name(c for _, b in blocks for c in b.expected_components),
        expected_configs=_unique_by_name(c for _, b in blocks for c in b.expected_configs),
        trigger_inputs=_unique(
            [*(t for t in triggers if t is not None), *(t for _, b in blocks for t in b.trigger_inputs)]
        ),
        always_outputs=always,
        branch_defaults={k: v for k, v in branch_defaults.items() if v},
    )
