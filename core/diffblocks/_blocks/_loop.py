"""LoopSequentialPipelineBlocks: sub-blocks run once per iteration on one shared block state."""

from __future__ import annotations

import inspect
from typing import Any

from .._model._params import ComponentSpec, ConfigSpec, InputParam, OutputParam
from .._model._state import BlockState, PipelineState
from ._access import build_accessors
from ._aggregate import Declarations, aggregate_sequential
from ._base import ModularPipelineBlocks
from ._failures import annotate, bad_return, failed_position
from ._multi import _MultiBlocks
from ._plan import At, Walk

#: loop_step's marker for a keyword value that was not passed
_UNSET: Any = object()


class LoopSequentialPipelineBlocks(_MultiBlocks):
    """A loop over sub-blocks that share one block state.

    Declare ``loop_inputs``, ``loop_intermediate_inputs``, ``loop_intermediate_outputs`` (and
    ``loop_expected_components``/``loop_expected_configs``) and implement ``__call__``: get one
    block state, call ``self.loop_step(components, block_state, **kw)`` per iteration, set the
    state once. Sub-blocks are called as ``block(components, block_state, **kw)``.
    """

    @property
    def loop_inputs(self) -> list[InputParam]:
        return []

    @property
    def loop_intermediate_inputs(self) -> list[InputParam]:
        return []

    @property
    def loop_intermediate_outputs(self) -> list[OutputParam]:
        return []

    @property
    def loop_expected_components(self) -> list[ComponentSpec]:
        return []

    @property
    def loop_expected_configs(self) -> list[ConfigSpec]:
        return []

    def _aggregate(self, items: list[tuple[str, ModularPipelineBlocks]]) -> Declarations:
        return aggregate_sequential(items, head=self)

    def _accessors(self) -> tuple[Any, Any]:
        decl, items, acc = self._state()
        if acc is None:
            get, put = build_accessors(
                type(self).__name__, decl.inputs, decl.intermediate_inputs, decl.intermediate_outputs
            )
            # the sub-blocks' names and bound __call__ methods ride along for loop_step
            names = tuple(name for name, _ in items)
            calls = tuple(block.__call__ for _, block in items)
            # whether every sub-block takes (i) / (i, t) by position, for loop_step's fast calls
            takes_i = _takes_positionally(calls, ("i",))
            takes_it = _takes_positionally(calls, ("i", "t"))
            acc = (get, put, names, calls, takes_i, takes_it)
            assert self._cache is not None
            self._cache = (self._cache[0], decl, items, acc)
        return acc[0], acc[1]

    def loop_step(
        self, components: Any, block_state: BlockState, i: Any = _UNSET, t: Any = _UNSET, **kwargs: Any
    ) -> tuple[Any, BlockState]:
        """Run every sub-block once on the shared block state, passing the keyword values (the
        loop index ``i``, the timestep ``t``, and any others) to each."""
        cache = self._cache
        if cache is None or cache[3] is None:
            self._accessors()
            cache = self._cache
            assert cache is not None
        acc = cache[3]
        calls = acc[3]
        call = None
        try:
            # ``i`` and ``t`` are what diffusion loops pass on every step: they arrive as named
            # parameters and go on by position when every sub-block takes them so, skipping a
            # keyword dict per sub-block per iteration. Anything else goes on by keyword.
            if t is _UNSET and acc[4] and not kwargs and i is not _UNSET:
                for call in calls:
                    components, block_state = call(components, block_state, i)
            elif acc[5] and not kwargs and i is not _UNSET and t is not _UNSET:
                for call in calls:
                    components, block_state = call(components, block_state, i, t)
            else:
                if i is not _UNSET:
                    kwargs["i"] = i
                if t is not _UNSET:
                    kwargs["t"] = t
                for call in calls:
                    components, block_state = call(components, block_state, **kwargs)
        except Exception as exc:
            self._step_failed(exc, failed_position(calls, call), block_state)
        except KeyboardInterrupt as exc:  # not wrapped (Ctrl-C stays Ctrl-C); see keep_interrupted
            if getattr(exc, "_pending_salvage", None) is None:
                exc._pending_salvage = (self, block_state)  # type: ignore[attr-defined]
            raise
        return components, block_state

    def _step_failed(self, exc: BaseException, index: int, block_state: BlockState) -> None:
        assert self._cache is not None
        name = self._cache[3][2][index]
        block = self._sub_blocks.get(name)
        chosen = getattr(block, "_returns_chosen_result", False)
        err = annotate(bad_return(exc, block, "(components, block_state)", chosen) or exc, name, block, None)
        if err._pending_salvage is None:
            err._pending_salvage = (self, block_state)
        if err is exc:
            raise exc
        raise err from exc

    def __call__(self, components: Any, state: PipelineState) -> tuple[Any, PipelineState]:
        raise NotImplementedError(
            f"{type(self).__name__} must implement __call__: get the block state, call "
            f"self.loop_step(components, block_state, ...) for each iteration, then "
            f"self.set_block_state(state, block_state)"
        )

    def _salvage(self, state: PipelineState, block_state: BlockState) -> None:
        """Keep what a failed loop had finished: every declared output that was set."""
        values = block_state.__dict__
        for out in self.intermediate_outputs:
            if out.name in values:
                state.intermediates[out.name] = values[out.name]

    def _plan(self, walk: Walk, at: At) -> None:
        walk.whole(self, at)  # loops stay whole
        walk.inside(self._state()[1], at)


def _takes_positionally(calls: tuple[Any, ...], names: tuple[str, ...]) -> bool:
    """True when every call's parameters after (components, block_state) start with ``names``,
    in order and passable by position, and the rest have defaults: positional calls are then
    exactly the keyword calls."""
    if not 1 <= len(names) <= 2:
        return False
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    for call in calls:
        try:
            params = list(inspect.signature(call).parameters.values())
        except (TypeError, ValueError):
            return False
        head, rest = params[: 2 + len(names)], params[2 + len(names) :]
        if len(head) < 2 + len(names) or any(p.kind not in kinds for p in head):
            return False
        if tuple(p.name for p in head[2:]) != names:
            return False
        if any(p.default is p.empty and p.kind in (*kinds, p.KEYWORD_ONLY) for p in rest):
            return False
    return True


__all__ = ["LoopSequentialPipelineBlocks"]
