"""The one walk of a block tree: which blocks run, in which order, under which names.

``plan(block, values)`` resolves conditional blocks from ``values`` (name -> value; None or
missing means absent) and lists what would run. ``plan(block)`` takes every branch instead, for
static analysis. Execution checks, validation, rendering, the data-flow graph and
``get_execution_blocks`` all read this one walk.

Blocks take part through one method, ``_plan(walk, at)``, that calls back the shape they have:
a leaf or a loop runs ``whole``, a sequence runs ``in_order``, a conditional block runs
``one_of`` its branches. A loop also shows ``inside`` it, for code that needs every block.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from .._model._errors import DiffblocksError

if TYPE_CHECKING:
    from ._base import ModularPipelineBlocks


class At(NamedTuple):
    """Where the walk is: the block's path from the root, the names ``get_execution_blocks``
    keys it by (a block a conditional chose goes by the conditional's name), and whether some
    enclosing conditional block may skip it."""

    path: tuple[str, ...] = ()
    key: tuple[str, ...] = ()
    conditional: bool = False

    def child(self, name: str, keyed: bool = True, conditional: bool = False) -> At:
        return At(
            (*self.path, name),
            (*self.key, name) if keyed else self.key,
            self.conditional or conditional,
        )

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True)
class Step:
    """A block that runs as one unit (a leaf, or a loop with everything in it)."""

    path: str
    key: tuple[str, ...]
    block: ModularPipelineBlocks
    conditional: bool


@dataclass
class Plan:
    """What the walk found. ``steps``: what runs, in order. ``nodes``: every block reached,
    depth first, multi-blocks and loop insides included, with its path. ``choices``: the
    conditional blocks reached, with their paths. ``by_presence``: every choice depended only on
    which names were present, so the plan holds for any values with the same names present.
    ``complete``: False when a conditional block could not choose before the run (see ``plan``);
    ``steps`` then ends before it."""

    steps: list[Step] = field(default_factory=list)
    nodes: list[tuple[str, ModularPipelineBlocks]] = field(default_factory=list)
    choices: list[tuple[str, Any]] = field(default_factory=list)
    by_presence: bool = True
    complete: bool = True

    def missing_inputs(self, given: Iterable[str]) -> list[tuple[str, str, str]]:
        """(path, class, name) of each required input that is neither in ``given`` nor
        produced by an earlier step."""
        present = set(given)
        missing = []
        for step in self.steps:
            block = step.block
            for p in [*block.inputs, *block.intermediate_inputs]:
                if p.required and p.name and p.name not in present:
                    missing.append((step.path, type(block).__name__, p.name))
            present.update(block.output_names)
        return missing

    def needed_components(self) -> list[tuple[str, str, str]]:
        """(path, class, component name) for every component a step declares."""
        return [
            (step.path, type(step.block).__name__, c.name)
            for step in self.steps
            for c in step.block.expected_components
        ]

    def keyed_blocks(self) -> dict[str, ModularPipelineBlocks]:
        """The steps as a flat name -> block mapping, for ``get_execution_blocks``. A step goes by
        its last key (the name of the conditional block that chose it, if one did); where two
        share it, the later one goes by its whole key joined with '_'."""
        flat: dict[str, ModularPipelineBlocks] = {}
        for step in self.steps:
            name = step.key[-1] if step.key else type(step.block).__name__
            if name in flat:
                name = "_".join(step.key) or name
            flat[name] = step.block
        return flat


class Walk:
    """The walk in progress; blocks call back one of ``whole``, ``in_order``, ``one_of``."""

    def __init__(self, values: Mapping[str, Any] | None, partial_ok: bool = False) -> None:
        # None: every branch; else what is known, outputs of planned steps added as they come
        self.values: dict[str, Any] | None = None if values is None else dict(values)
        self.partial_ok = partial_ok
        self.plan = Plan()
        self._inside = 0  # > 0 while looking inside a loop: nodes only, no steps
        self._unknown: set[str] = set()  # produced by planned steps: present, value not known

    def visit(self, block: ModularPipelineBlocks, at: At) -> None:
        self.plan.nodes.append((at.dotted, block))
        block._plan(self, at)

    def whole(self, block: ModularPipelineBlocks, at: At) -> None:
        """``block`` runs as one unit."""
        if self._inside:
            return
        self.plan.steps.append(Step(at.dotted, at.key, block, at.conditional))
        values = self.values
        if values is not None:
            for name in block.output_names:
                if values.get(name) is None:
                    values[name] = True  # present; its value is known only at run time
                    self._unknown.add(name)

    def in_order(self, items: Iterable[tuple[str, ModularPipelineBlocks]], at: At) -> None:
        """Each of ``items`` runs, in order."""
        for name, sub in items:
            self.visit(sub, at.child(name))

    def one_of(self, block: Any, items: Iterable[tuple[str, ModularPipelineBlocks]], at: At) -> None:
        """At most one of ``items`` runs; ``block._choose(lookup)`` says which, for given values."""
        self.plan.choices.append((at.dotted, block))
        if self.values is None or self._inside:
            for name, sub in items:
                self.visit(sub, at.child(name, conditional=True))
            return
        if not block._selects_by_presence():
            self.plan.by_presence = False
        try:
            chosen = block._choose(self.values.get)
        except DiffblocksError as err:
            if self.partial_ok and self._unknown.intersection(block.block_trigger_inputs):
                # select_block could not judge a placeholder for a value made during the run
                raise _Unresolved from err
            for part in reversed(at.path):
                err._prepend(part)
            raise
        if chosen is not None:
            name, sub = chosen
            self.visit(sub, at.child(name, keyed=False))

    def inside(self, items: Iterable[tuple[str, ModularPipelineBlocks]], at: At) -> None:
        """Blocks that run inside a unit already planned (a loop's sub-blocks): nodes only."""
        self._inside += 1
        try:
            for name, sub in items:
                self.visit(sub, at.child(name))
        finally:
            self._inside -= 1


class _Unresolved(Exception):
    """A conditional block cannot choose before the run; the plan ends there."""


def plan(
    block: ModularPipelineBlocks, values: Mapping[str, Any] | None = None, partial_ok: bool = False
) -> Plan:
    """Walk ``block``: with ``values``, what runs for them; without, every branch.

    A value that a block produces during the run is known here only to be present (it stands as
    True). A ``select_block`` that fails on such a stand-in raises, unless ``partial_ok``: then
    the plan stops at that block, ``complete`` is False, and only the steps before it are listed
    (the pipeline's checks before a run use this; the block chooses with real values later).
    """
    walk = Walk(values, partial_ok)
    try:
        walk.visit(block, At())
    except _Unresolved:
        walk.plan.complete = False
        walk.plan.by_presence = False
    return walk.plan


def caller_inputs(block: ModularPipelineBlocks) -> frozenset[str]:
    """Every keyword a caller may pass: the block's inputs, nested ``inputs`` that an upstream
    block produces (a caller may still override them), and the ``kwargs_type`` of a nameless
    param (a dict of tagged values)."""
    names = set(block.input_names)
    params = [*block.inputs, *block.intermediate_inputs]
    names.update(p.kwargs_type for p in params if p.name is None and p.kwargs_type)
    for _, sub in plan(block).nodes:
        names.update(p.name for p in sub.inputs if p.name)
    return frozenset(names)


__all__ = ["At", "Plan", "Step", "Walk", "caller_inputs", "plan"]
