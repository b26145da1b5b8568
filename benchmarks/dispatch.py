"""Per-block and per-loop-iteration dispatch cost of diffblocks, against plain Python.

Run: python benchmarks/dispatch.py  (--smoke: a few repeats only, to check that it runs)
Prints microseconds per block (marginal cost from a 10-block to a 100-block chain), the same for a
chain of plain functions on a dict (the lower bound), per loop iteration of a 3-sub-block loop, and
the ratios. With diffusers >= 0.35 installed, its modular blocks are timed side by side.
"""

from __future__ import annotations

import argparse
import importlib
import platform
import sys
import timeit
from collections.abc import Callable
from typing import Any

REPEAT = 7
#: calls per timing; --smoke divides it (and REPEAT) so the doc tests only check the script runs
SCALE = 1.0


def best_seconds(fn: Callable[[], Any], number: int) -> float:
    number = max(1, int(number * SCALE))
    return min(timeit.repeat(fn, number=number, repeat=REPEAT)) / number


def marginal_us(make_runner: Callable[[int], Callable[[], Any]], number: int = 2000) -> float:
    """Cost of one more block: (t(100) - t(10)) / 90, in microseconds."""
    t10 = best_seconds(make_runner(10), number)
    t100 = best_seconds(make_runner(100), number)
    return (t100 - t10) / 90 * 1e6


def plain_python(n: int) -> Callable[[], Any]:
    def step(d: dict[str, Any]) -> dict[str, Any]:
        d["x"] = d["x"] + 1
        return d

    steps = [step] * n

    def run() -> Any:
        d = {"x": 0}
        for f in steps:
            d = f(d)
        return d["x"]

    return run


def add_one_block_classes(mod: Any) -> tuple[type, type]:
    """The same two blocks written against a Modular-Diffusers-style API module."""

    # Declared in the later Modular Diffusers style (``inputs`` only) that both libraries accept.
    class AddOne(mod.PipelineBlock):
        @property
        def inputs(self) -> list[Any]:
            return [mod.InputParam("x")]

        @property
        def intermediate_outputs(self) -> list[Any]:
            return [mod.OutputParam("x")]

        def __call__(self, components: Any, state: Any) -> Any:
            bs = self.get_block_state(state)
            bs.x = bs.x + 1
            self.set_block_state(state, bs)
            return components, state

    class LoopAdd(mod.PipelineBlock):
        @property
        def inputs(self) -> list[Any]:
            return [mod.InputParam("x")]

        def __call__(self, components: Any, block_state: Any, i: int) -> Any:
            block_state.x = block_state.x + 1
            return components, block_state

    return AddOne, LoopAdd


def chain_runner(mod: Any, n: int) -> Callable[[], Any]:
    AddOne, _ = add_one_block_classes(mod)
    blocks = mod.SequentialPipelineBlocks.from_blocks_dict({f"b{i}": AddOne() for i in range(n)})
    pipe = blocks.init_pipeline()
    pipe(x=0)  # warm caches, check it runs
    assert pipe(x=0, output="x") == n

    def run() -> Any:
        return pipe(x=0, output="x")

    return run


def loop_runner(mod: Any, iterations: int) -> Callable[[], Any]:
    _, LoopAdd = add_one_block_classes(mod)

    class Loop(mod.LoopSequentialPipelineBlocks):
        @property
        def loop_inputs(self) -> list[Any]:
            return [mod.InputParam("x"), mod.InputParam("n")]

        @property
        def loop_intermediate_outputs(self) -> list[Any]:
            return [mod.OutputParam("x")]

        def __call__(self, components: Any, state: Any) -> Any:
            bs = self.get_block_state(state)
            for i in range(bs.n):
                components, bs = self.loop_step(components, bs, i=i)
            self.set_block_state(state, bs)
            return components, state

    loop = Loop.from_blocks_dict({"a": LoopAdd(), "b": LoopAdd(), "c": LoopAdd()})
    pipe = loop.init_pipeline()
    assert pipe(x=0, n=iterations, output="x") == 3 * iterations

    def run() -> Any:
        return pipe(x=0, n=iterations, output="x")

    return run


def loop_us_per_iteration(mod: Any) -> float:
    t5 = best_seconds(loop_runner(mod, 5), 2000)
    t55 = best_seconds(loop_runner(mod, 55), 2000)
    return (t55 - t5) / 50 * 1e6


def main(argv: list[str] | None = None) -> int:
    global REPEAT, SCALE
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--smoke", action="store_true", help="tiny run: checks the script, not the speed")
    if parser.parse_args(argv).smoke:
        REPEAT, SCALE = 1, 0.01
    import diffblocks

    # CPython versions differ here (3.11 cannot specialize attribute reads on a class with
    # __getattr__, such as PipelineState), so the version is part of the result
    print(f"python            : {platform.python_implementation()} {platform.python_version()}")
    plain = marginal_us(plain_python)
    ours = marginal_us(lambda n: chain_runner(diffblocks, n))
    ours_loop = loop_us_per_iteration(diffblocks)
    print(f"plain python      : {plain:.3f} us/block")
    print(f"diffblocks        : {ours:.3f} us/block   ratio to plain {ours / plain:.2f}x")
    print(f"diffblocks loop   : {ours_loop:.3f} us/iteration (3 sub-blocks)")
    try:
        import diffusers
        from packaging.version import Version

        if Version(diffusers.__version__) < Version("0.35"):
            raise ImportError
        dmod = importlib.import_module("diffusers.modular_pipelines")
        if not hasattr(dmod, "PipelineBlock"):
            dmod.PipelineBlock = dmod.ModularPipelineBlocks
        theirs = marginal_us(lambda n: chain_runner(dmod, n), number=200)
        theirs_loop = loop_us_per_iteration(dmod)
        print(
            f"diffusers modular : {theirs:.3f} us/block   ratio to plain {theirs / plain:.2f}x "
            f"(diffblocks is {theirs / ours:.1f}x faster)"
        )
        print(
            f"diffusers loop    : {theirs_loop:.3f} us/iteration "
            f"(diffblocks/diffusers = {ours_loop / theirs_loop:.2f})"
        )
    except ImportError:
        print("diffusers >= 0.35 not installed: side-by-side skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
