"""The denoising loop every diffusion family repeats, written once and free of torch.

``DenoiseLoopBlocks`` runs its sub-blocks once per timestep (with an optional progress bar and a
per-step callback), ``SchedulerStepBlock`` advances the latents one scheduler step, and
``combine_guidance`` / ``scheduler_step_kwargs`` are the two small pieces of arithmetic and
introspection that family plugins otherwise copy. Tensors are used only through their methods, so
this module imports no torch.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import sys
from typing import Any

from .._blocks._base import PipelineBlock
from .._blocks._loop import LoopSequentialPipelineBlocks
from .._model._params import ComponentSpec
from .._model._state import BlockState, PipelineState
from ._progress import progress_bar


@functools.lru_cache(maxsize=64)
def _step_parameters(step: Any) -> frozenset[str]:
    return frozenset(inspect.signature(step).parameters)


def scheduler_step_kwargs(scheduler: Any, **candidates: Any) -> dict[str, Any]:
    """The subset of ``candidates`` that ``scheduler.step`` accepts (``eta`` only for DDIM-like
    schedulers, ``generator`` only for stochastic ones, ...). Looked up once per scheduler class."""
    accepted = _step_parameters(type(scheduler).step)
    return {k: v for k, v in candidates.items() if k in accepted}


def combine_guidance(noise: Any, guidance_scale: float, guidance_rescale: float = 0.0) -> Any:
    """Classifier-free guidance on a batched prediction ``[uncond; cond]``: returns
    ``uncond + scale * (cond - uncond)``, optionally rescaled towards the conditional branch's
    standard deviation (``guidance_rescale`` in [0, 1], arXiv:2305.08891 section 3.4)."""
    uncond, cond = noise.chunk(2)
    guided = uncond + guidance_scale * (cond - uncond)
    if guidance_rescale > 0:
        dims = list(range(1, cond.ndim))
        rescaled = guided * (cond.std(dim=dims, keepdim=True) / guided.std(dim=dims, keepdim=True))
        guided = guidance_rescale * rescaled + (1 - guidance_rescale) * guided
    return guided


def _no_grad() -> contextlib.AbstractContextManager[Any]:
    # A loop over tensors has torch imported already; without torch there is no graph to skip.
    torch = sys.modules.get("torch")
    return torch.no_grad() if torch is not None else contextlib.nullcontext()


class DenoiseLoopBlocks(LoopSequentialPipelineBlocks):
    """A loop block that runs its sub-blocks once per entry of ``timesteps``.

    Each iteration calls ``loop_step(components, block_state, i=i, t=t)``. The block state must
    hold ``timesteps``; it may hold ``show_progress`` (None: a bar only on a terminal) and
    ``callback_on_step_end``, called as ``f(components, i, t, {"latents": ...})`` after each step,
    whose returned ``{"latents": ...}`` replaces the latents. Override ``prepare`` for work done
    once per call (conditioning, scheduler keywords). Runs without autograd when torch is loaded.
    """

    #: the progress bar's label
    progress_desc = "denoise"

    def prepare(self, components: Any, block_state: BlockState) -> None:
        """Called once before the first step; the default does nothing."""

    def __call__(self, components: Any, state: PipelineState) -> tuple[Any, PipelineState]:
        # declared by subclasses, so the block state's attributes are not known statically
        block_state: Any = self.get_block_state(state)
        with _no_grad():
            self.prepare(components, block_state)
            timesteps = block_state.timesteps
            show = getattr(block_state, "show_progress", None)
            callback = getattr(block_state, "callback_on_step_end", None)
            steps = progress_bar(
                timesteps,
                total=len(timesteps),
                desc=self.progress_desc,
                disable=None if show is None else not show,
            )
            for i, t in enumerate(steps):
                components, block_state = self.loop_step(components, block_state, i=i, t=t)
                if callback is not None:
                    changed = callback(components, i, t, {"latents": block_state.latents})
                    if changed and "latents" in changed:
                        block_state.latents = changed["latents"]
        self.set_block_state(state, block_state)
        return components, state


class SchedulerStepBlock(PipelineBlock):
    """Loop sub-block: ``latents = scheduler.step(noise_pred, t, latents, **step_kwargs)``.

    Reads ``noise_pred``, ``latents`` and ``step_kwargs`` (from ``scheduler_step_kwargs``) from the
    loop's block state. Families set ``scheduler_spec`` to their scheduler's spec.
    """

    description = "Advances the latents one scheduler step."
    #: the scheduler this step needs (a family's spec carries its type and default config)
    scheduler_spec: ComponentSpec = ComponentSpec("scheduler")

    @property
    def expected_components(self) -> list[ComponentSpec]:
        return [self.scheduler_spec]

    def __call__(  # type: ignore[override]
        self, components: Any, block_state: Any, i: int, t: Any
    ) -> tuple[Any, Any]:
        step_kwargs = getattr(block_state, "step_kwargs", None) or {}
        block_state.latents = components.scheduler.step(
            block_state.noise_pred, t, block_state.latents, **step_kwargs, return_dict=False
        )[0]
        return components, block_state


__all__ = ["DenoiseLoopBlocks", "SchedulerStepBlock", "combine_guidance", "scheduler_step_kwargs"]
