"""ConditionalPipelineBlocks (runs the one sub-block ``select_block`` names) and
AutoPipelineBlocks (the first sub-block whose trigger input is present)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._model._errors import BlockDefinitionError, BlockExecutionError, suggest
from .._model._state import PipelineState
from ._aggregate import Declarations, aggregate_conditional
from ._base import ModularPipelineBlocks
from ._failures import annotate
from ._multi import SequentialPipelineBlocks, _MultiBlocks
from ._plan import At, Walk, plan


class ConditionalPipelineBlocks(_MultiBlocks):
    """Runs at most one of its sub-blocks: the one ``select_block`` names.

    ``block_trigger_inputs`` lists the names whose values ``select_block(**kwargs)`` receives
    (None where the state has no value). It returns a sub-block name, or None for
    ``default_block_name``; with no default either, nothing runs and the state is untouched.
    Choose by whether a value is present rather than by the value itself where you can:
    ``get_execution_blocks`` and the pipeline's checks before a run know only that a value a
    block will produce is present, not what it is.

    The branch that runs applies its own defaults: where branches declare different defaults for
    an input the caller did not give, the chosen branch's default is used and put in the state.
    """

    block_trigger_inputs: list[str | None] = []
    default_block_name: str | None = None
    _returns_chosen_result = True

    def select_block(self, **kwargs: Any) -> str | None:
        """The name of the sub-block to run for these trigger values, or None (the default)."""
        raise NotImplementedError(f"{type(self).__name__} must implement select_block(**kwargs)")

    def _check_structure(self) -> None:
        cls = type(self).__name__
        if type(self).select_block is ConditionalPipelineBlocks.select_block:
            raise BlockDefinitionError(
                f"{cls}: a ConditionalPipelineBlocks must override select_block(self, **kwargs) and "
                f"return the name of the sub-block to run, or None for the default; for one trigger "
                f"input per sub-block, subclass AutoPipelineBlocks instead"
            )
        for i, t in enumerate(self.block_trigger_inputs):
            if t is not None and not isinstance(t, str):
                raise BlockDefinitionError(
                    f"{cls}: block_trigger_inputs[{i}] is {t!r}; each trigger must be an input "
                    f"name (str) or None"
                )
        default = self.default_block_name
        if default is not None and default not in self._sub_blocks:
            hint = suggest(default, self._sub_blocks)
            raise BlockDefinitionError(
                f"{cls}: default_block_name {default!r} is not one of its sub-blocks "
                f"({', '.join(self._sub_blocks) or 'none'}).{hint}"
            )

    def _aggregate(self, items: list[tuple[str, ModularPipelineBlocks]]) -> Declarations:
        return aggregate_conditional(
            items, list(self.block_trigger_inputs), has_default=self.default_block_name is not None
        )

    def _selects_by_presence(self) -> bool:
        """Whether the choice depends only on which trigger values are present (not None)."""
        return False

    def _choose(self, lookup: Callable[[str], Any]) -> tuple[str, ModularPipelineBlocks] | None:
        """The (name, block) that runs when ``lookup(name)`` gives each trigger's value, or None."""
        self._state()  # re-checks the structure after surgery
        kwargs = {t: lookup(t) for t in self.block_trigger_inputs if t is not None}
        try:
            name = self.select_block(**kwargs)
        except Exception as exc:
            raise BlockExecutionError(f"{type(self).__name__}.select_block", exc) from exc
        if name is None:
            name = self.default_block_name
            if name is None:
                return None
        block = self._sub_blocks.get(name)
        if block is None:
            hint = suggest(str(name), self._sub_blocks)
            raise BlockDefinitionError(
                f"{type(self).__name__}.select_block returned {name!r}, which is not one of its "
                f"sub-blocks ({', '.join(self._sub_blocks)}).{hint} Return a sub-block name or None"
            )
        return name, block

    def __call__(self, components: Any, state: PipelineState) -> tuple[Any, PipelineState]:
        inter, inputs = state.intermediates, state._inputs

        def lookup(key: str) -> Any:
            value = inter.get(key)
            return value if value is not None else inputs.get(key)

        chosen = self._choose(lookup)
        if chosen is None:
            return components, state
        name, block = chosen
        for key, default, is_inter, kwargs_type in self._decl().branch_defaults.get(name, ()):
            if lookup(key) is None:
                (state.set_intermediate if is_inter else state.set_input)(key, default, kwargs_type)
        try:
            return block(components, state)
        except Exception as exc:
            err = annotate(exc, name, block, state)
            if err is exc:
                raise
            raise err from exc

    def _plan(self, walk: Walk, at: At) -> None:
        walk.one_of(self, self._state()[1], at)

    def _tag(self, index: int, name: str) -> str:
        return " [default]" if name == self.default_block_name else ""

    def _trigger_branches(self) -> list[tuple[str, str | None]]:
        """(trigger input, the sub-block it selects, or None where select_block decides)."""
        return [(t, None) for t in self.block_trigger_inputs if t is not None]

    def get_execution_blocks(self, *names: str, **values: Any) -> ModularPipelineBlocks | None:
        """The block chosen for these inputs (a leaf or loop as it is; a sequence resolved to
        the blocks that would run in it), or None when nothing would run."""
        runs = plan(self, {**dict.fromkeys(names, True), **values})
        if not runs.steps:
            return None
        if len(runs.steps) == 1 and not runs.steps[0].key:
            return runs.steps[0].block
        return SequentialPipelineBlocks.from_blocks_dict(runs.keyed_blocks())


class AutoPipelineBlocks(ConditionalPipelineBlocks):
    """Runs the first sub-block whose trigger input has a value (not None).

    ``block_trigger_inputs`` has one entry per sub-block; ``None`` marks the default block and
    may only be last. Without a default and with no trigger present, nothing runs.
    """

    def _check_structure(self) -> None:
        triggers = list(self.block_trigger_inputs)
        cls = type(self).__name__
        names = list(self._sub_blocks)
        n = len(names)
        if type(self).default_block_name is not None:
            raise BlockDefinitionError(
                f"{cls}: an AutoPipelineBlocks takes its default from block_trigger_inputs: put None "
                f"as the last trigger (for the default block, listed last) instead of setting "
                f"default_block_name"
            )
        # an instance attribute, as in diffusers: the name of the block whose trigger is None
        self.default_block_name = names[-1] if names and triggers and triggers[-1] is None else None
        super()._check_structure()  # trigger types
        if len(triggers) != n:
            raise BlockDefinitionError(
                f"{cls}: block_trigger_inputs has {len(triggers)} entries for {n} sub-blocks "
                f"({', '.join(names) or 'none'}); give one trigger input name per "
                f"sub-block, None for the default (last)"
            )
        for i, t in enumerate(triggers):
            if t is None and i != n - 1:
                raise BlockDefinitionError(
                    f"{cls}: block_trigger_inputs[{i}] is None but only the last entry may be None "
                    f"(the default block); move the default block to the end"
                )
        dupes = sorted({t for t in triggers if t is not None and triggers.count(t) > 1})
        if dupes:
            raise BlockDefinitionError(
                f"{cls}: trigger input(s) {dupes} are listed twice; the second block could never "
                f"run. Give each sub-block its own trigger"
            )

    def select_block(self, **kwargs: Any) -> str | None:
        """The name of the first sub-block whose trigger value is not None; None if there is none."""
        for trigger, name in zip(self.block_trigger_inputs, self._sub_blocks):
            if trigger is not None and kwargs.get(trigger) is not None:
                return name
        return None

    def _selects_by_presence(self) -> bool:
        return type(self).select_block is AutoPipelineBlocks.select_block

    def _tag(self, index: int, name: str) -> str:
        triggers = self.block_trigger_inputs
        if index >= len(triggers):
            return ""
        return " [default]" if triggers[index] is None else f" [trigger: {triggers[index]}]"

    def _trigger_branches(self) -> list[tuple[str, str | None]]:
        return [(t, name) for t, name in zip(self.block_trigger_inputs, self._sub_blocks) if t is not None]


__all__ = ["AutoPipelineBlocks", "ConditionalPipelineBlocks"]
