"""What runners do when a sub-block fails: add its name to the error on its way up, explain a
bad return value, and keep the partial state (finished loop iterations included)."""

from __future__ import annotations

import dis
from typing import Any

from .._model._errors import BadReturnError, BlockExecutionError, DiffblocksError
from .._model._state import PipelineState


def annotate(exc: BaseException, name: str | None, block: Any, state: Any) -> DiffblocksError:
    """Add a sub-block's name (None at the top) to an error travelling up, wrapping foreign
    exceptions once. It also writes back what a failing loop had finished, so the caller keeps it
    on ``.state``.
    """
    err = exc if isinstance(exc, DiffblocksError) else BlockExecutionError(type(block).__name__, exc)
    if name is not None:
        err._prepend(name)
    if isinstance(state, PipelineState):
        if err._pending_salvage is not None:
            loop, block_state = err._pending_salvage
            loop._salvage(state, block_state)
            err._pending_salvage = None
        if err.state is None:
            err.state = state
    return err


_UNPACK_SEQUENCE = dis.opmap["UNPACK_SEQUENCE"]


def bad_return(exc: BaseException, block: Any, expected: str, chosen: bool = False) -> BadReturnError | None:
    """For a runner's failure path: the error to raise when ``exc`` is the runner's own unpacking
    of a sub-block's result (the block returned None or not a pair), else None.

    The runner's frame raised it (no deeper traceback entry) at an UNPACK_SEQUENCE instruction, so
    a TypeError or ValueError raised inside the block, or by calling it with the wrong arguments,
    is never mistaken for one. Found after the fact, so the success path checks nothing."""
    tb = exc.__traceback__
    if not isinstance(exc, (TypeError, ValueError)) or tb is None or tb.tb_next is not None:
        return None
    if tb.tb_frame.f_code.co_code[tb.tb_lasti] != _UNPACK_SEQUENCE:
        return None
    text = str(exc)
    if isinstance(exc, TypeError):
        # "cannot unpack non-iterable NoneType object": the message names the returned type
        kind = text.removeprefix("cannot unpack non-iterable ").removesuffix(" object")
        returned = "None" if kind == "NoneType" else f"a value of type {kind}, not a pair"
    else:
        returned = f"a sequence that is not a pair ({text})"
    if chosen:  # a conditional block hands up what its chosen sub-block returned
        returned += " (what its chosen sub-block's __call__ returned)"
    return BadReturnError(type(block).__name__, exc, returned, expected)


def keep_interrupted(exc: KeyboardInterrupt, state: PipelineState) -> None:
    """Ctrl-C during a run: write back what an interrupted loop had finished, as :func:`annotate`
    does for errors, and put the partial state on ``exc.state``. The interrupt is not wrapped."""
    pending = getattr(exc, "_pending_salvage", None)
    if pending is not None:
        loop, block_state = pending
        loop._salvage(state, block_state)
        exc._pending_salvage = None  # type: ignore[attr-defined]
    exc.state = state  # type: ignore[attr-defined]


def failed_position(calls: tuple[Any, ...], failed: Any) -> int:
    """Which of ``calls`` raised: found after the fact, so the hot loops count nothing."""
    for index, call in enumerate(calls):
        if call is failed:
            return index
    return 0
