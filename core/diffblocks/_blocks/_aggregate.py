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


class _ParamMerger:
    """Merges InputParams by name, first wins, without mutating any param object."""

    def __init__(self) -> None:
        self.params: dict[str, InputParam] = {}
        self.owners: dict[str, str] = {}
        self.split: set[str] = set()  # names whose branch defaults disagree

    def add(self, param: InputParam, owner: str, required: bool | None = None, branch: bool = False) -> None:
        """``branch``: params of alternative (Auto) branches; a default they disagree on is dropped,
        so each branch's own default applies when it runs."""
        key = param.name if param.name is not None else f"*{param.kwargs_type}"
        req = param.required if required is None else required
        have = self.params.get(key)
        if have is None:
            self.params[key] = param if req == param.required else replace(param, required=req)
            self.owners[key] = owner
            return
        changes: dict[str, Any] = {}
        if req and not have.required:
            changes["required"] = True
        if branch:
            if key in self.split or not _same(have.default, param.default):
                self.split.add(key)
                changes["default"] = None
        elif have.default is None and param.default is not None:
            changes["default"] = param.default
            self.owners[key] = owner
        elif param.default is not None and not _same(have.default, param.default):
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


def _same(a: Any, b: Any) -> bool:
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


def aggregate_auto(
    blocks: Sequence[tuple[str, ModularPipelineBlocks]], triggers: Sequence[str | None]
) -> Declarations:
    """Union of branches; an input is required only if every branch needs it and one always runs."""
    has_default = bool(triggers) and triggers[-1] is None
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
    )
