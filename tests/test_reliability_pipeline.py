"""Pipeline calls: every problem reported before compute, values checked against the declared
type hints and ranges, the caller's objects left alone, Ctrl-C keeps finished loop work, one
pipeline called from many threads at once, and nesting too deep for Python."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Optional, Union

import diffusers
import numpy as np
import pytest
import torch
from blockfactory import leaf
from diffblocks import (
    ComponentSpec,
    DiffblocksError,
    InputParam,
    LoopSequentialPipelineBlocks,
    MissingComponentError,
    MissingInputError,
    OutputParam,
    PipelineBlock,
    SequentialPipelineBlocks,
    get_block,
)
from PIL import Image


def one_block(inputs=None, intermediate_inputs=None, outputs=None, fn=None, components=None, name="Work"):
    block = leaf(name, inputs, intermediate_inputs, outputs, fn, components)
    return SequentialPipelineBlocks.from_blocks_dict({"work": block})


# -- missing things, together ------------------------------------------------------------------
def test_missing_inputs_and_components_in_one_error_before_any_block_runs():
    ran = []
    spec = ComponentSpec("scheduler", diffusers.EulerDiscreteScheduler)
    blocks = one_block(
        inputs=[InputParam("prompt", str, required=True), InputParam("steps", int, required=True)],
        outputs=[OutputParam("out")],
        fn=lambda bs: ran.append(1),
        components=[spec],
    )
    pipe = blocks.init_pipeline()
    with pytest.raises(MissingInputError) as info:
        pipe()
    err = info.value
    assert isinstance(err, MissingComponentError)  # one error that is both kinds
    text = str(err)
    assert "'prompt'" in text and "'steps'" in text and "'scheduler'" in text and "'work'" in text
    assert ran == []


# -- values against declared hints ---------------------------------------------------------------
def test_string_for_int_input_names_input_and_block_before_compute():
    ran = []
    blocks = one_block(
        inputs=[InputParam("num_inference_steps", int, default=20)],
        outputs=[OutputParam("out")],
        fn=lambda bs: (ran.append(1), setattr(bs, "out", bs.num_inference_steps + 1)),
        name="SetTimesteps",
    )
    pipe = blocks.init_pipeline()
    with pytest.raises(DiffblocksError) as info:
        pipe(num_inference_steps="21")
    assert isinstance(info.value, TypeError)
    text = str(info.value)
    assert "'num_inference_steps'" in text and "'work'" in text and "SetTimesteps" in text
    assert "expected int" in text and "'21'" in text
    assert ran == []
    assert pipe(num_inference_steps=21, output="out") == 22


CASES: list[tuple[Any, list[Any], list[Any]]] = [
    (int, [3, np.int64(3)], ["3", 3.5, True]),
    (float, [1.5, 2, np.float32(0.5)], ["1.5", False]),
    (bool, [True], [1, "yes"]),
    (str, ["a"], [1, ["a"]]),
    (list, [[1]], [(1,), "ab"]),
    (dict, [{"a": 1}], [[("a", 1)]]),
    (tuple, [(1, 2), [1, 2]], ["ab", 3]),  # lists too: spec files and JSON have no tuples
    (Optional[int], [4], ["4"]),  # noqa: UP045 (typing.Optional itself is under test)
    (Union[int, str], [4, "4"], [4.5]),  # noqa: UP007 (typing.Union itself is under test)
    (int | list[int], [1, [1, 2]], [[1, "2"]]),
    (list[str], [["a", "b"]], [["a", 2]]),
    (dict[str, float], [{"a": 1.0}], [{"a": "x"}]),
    (tuple[int, str], [(1, "a"), [1, "a"]], [(1, 2), (1.5,)]),
    (tuple[int] | None, [(0, 0)], [("0", 0)]),  # diffusers' hint for "a tuple of ints"
    (tuple[int, ...], [(1, 2, 3), ()], [(1, "2")]),
    (Sequence[str], [["a"], ("a", "b")], [["a", 1], 3]),
    ("Mapping[str, int]", [{"a": 1}], [{"a": "1"}]),
    ("str | list[str]", ["a", ["a"]], [3, ["a", 3]]),
    ("Optional[int]", [3], ["3"]),
    ("torch.Tensor", [torch.zeros(2), torch.nn.Parameter(torch.zeros(1))], [np.zeros(2), [0.0]]),
    (torch.Tensor, [torch.zeros(2)], [np.zeros(2)]),
    ("np.ndarray", [np.zeros(2)], [torch.zeros(2)]),
    ("PIL.Image.Image", [Image.new("RGB", (2, 2))], [np.zeros((2, 2, 3))]),
    ("PIL.Image.Image | torch.Tensor | list", [torch.zeros(1), [1]], ["image.png"]),
    ("torch.Generator | list[torch.Generator]", [torch.Generator()], [0]),
    ("Callable", [print], [3]),
    (Any, [object()], []),
    ("SomethingUnknown", [object()], []),
]


@pytest.mark.parametrize(("hint", "good", "bad"), CASES, ids=[str(c[0]) for c in CASES])
def test_values_are_checked_against_type_hints(hint, good, bad):
    blocks = one_block(
        inputs=[InputParam("v", hint)], outputs=[OutputParam("out")], fn=lambda bs: setattr(bs, "out", 1)
    )
    pipe = blocks.init_pipeline()
    for value in good:
        assert pipe(v=value, output="out") == 1, value
    for value in bad:
        with pytest.raises(DiffblocksError, match="'v' for block 'work'"):
            pipe(v=value)


def test_intermediate_inputs_given_by_the_caller_are_checked():
    blocks = one_block(
        intermediate_inputs=[InputParam("latents", "torch.Tensor", required=True)],
        outputs=[OutputParam("out")],
        fn=lambda bs: setattr(bs, "out", 1),
    )
    with pytest.raises(DiffblocksError, match="expected torch.Tensor, got list"):
        blocks.init_pipeline()(latents=[1, 2])


def test_declared_choices_and_ranges_are_checked():
    blocks = one_block(
        inputs=[
            InputParam("output_type", str, default="pil", choices=["pil", "np", "pt"]),
            InputParam("strength", float, default=0.8, ge=0.0, le=1.0),
            InputParam("steps", int, default=2, gt=0),
        ],
        outputs=[OutputParam("out")],
        fn=lambda bs: setattr(bs, "out", (bs.output_type, bs.strength, bs.steps)),
    )
    pipe = blocks.init_pipeline()
    assert pipe(output="out") == ("pil", 0.8, 2)
    assert pipe(output_type="np", strength=1, steps=5, output="out") == ("np", 1, 5)
    with pytest.raises(DiffblocksError, match="'output_type' for block 'work'.*one of 'pil', 'np', 'pt'"):
        pipe(output_type="jpeg")
    with pytest.raises(DiffblocksError, match="'strength'.*<= 1.0; got 1.5"):
        pipe(strength=1.5)
    with pytest.raises(DiffblocksError, match="'strength'.*>= 0.0"):
        pipe(strength=float("nan"))
    with pytest.raises(DiffblocksError, match="'steps'.*> 0; got 0"):
        pipe(steps=0)


def test_every_bad_value_reported_together_with_missing_inputs():
    blocks = one_block(
        inputs=[InputParam("a", int), InputParam("b", str), InputParam("c", int, required=True)],
        outputs=[OutputParam("out")],
    )
    with pytest.raises(MissingInputError) as info:
        blocks.init_pipeline()(a="1", b=2)
    text = str(info.value)
    assert "'a'" in text and "'b'" in text and "'c' is required" in text


# -- the caller's objects --------------------------------------------------------------------------
def test_blocks_never_change_the_callers_lists_or_the_declared_defaults():
    def scribble(bs):
        bs.prompts.append("extra")
        bs.prompts[0].append("inner")
        bs.sizes.append(9)
        bs.options["seen"] = True
        bs.history.append("run")
        bs.out = (len(bs.prompts), len(bs.history))

    blocks = one_block(
        inputs=[InputParam("prompts", list, required=True), InputParam("options", dict, default={})],
        intermediate_inputs=[
            InputParam("sizes", list, required=True),
            InputParam("history", list, default=[]),
        ],
        outputs=[OutputParam("out")],
        fn=scribble,
    )
    pipe = blocks.init_pipeline()
    prompts, sizes = [["a"]], [1, 2]
    assert pipe(prompts=prompts, sizes=sizes, output="out") == (2, 1)
    assert prompts == [["a"]] and sizes == [1, 2]
    # mutable defaults are fresh for every run
    assert pipe(prompts=prompts, sizes=sizes, output="out") == (2, 1)
    assert blocks.sub_blocks["work"].intermediate_inputs[1].default == []
    assert blocks.sub_blocks["work"].inputs[1].default == {}


# -- Ctrl-C inside a loop ---------------------------------------------------------------------------
class _Step(PipelineBlock):
    def __call__(self, components, block_state, i):
        if i == block_state.stop_at:
            raise block_state.raise_what
        block_state.x = block_state.x + 1
        return components, block_state


class _Loop(LoopSequentialPipelineBlocks):
    block_classes = [_Step]
    block_names = ["step"]

    @property
    def loop_inputs(self):
        return [InputParam("stop_at", int), InputParam("raise_what")]

    @property
    def loop_intermediate_inputs(self):
        return [InputParam("x", int, required=True)]

    @property
    def loop_intermediate_outputs(self):
        return [OutputParam("x", int)]

    def __call__(self, components, state):
        bs = self.get_block_state(state)
        for i in range(10):
            components, bs = self.loop_step(components, bs, i=i)
        self.set_block_state(state, bs)
        return components, state


@pytest.mark.parametrize("raise_what", [KeyboardInterrupt(), ValueError("boom")], ids=["ctrl-c", "error"])
def test_interrupted_loop_keeps_finished_iterations(raise_what):
    pipe = SequentialPipelineBlocks.from_blocks_dict({"loop": _Loop()}).init_pipeline()
    assert pipe(x=0, output="x") == 10
    with pytest.raises(
        type(raise_what) if isinstance(raise_what, KeyboardInterrupt) else DiffblocksError
    ) as info:
        pipe(x=0, stop_at=3, raise_what=raise_what)
    assert info.value.state.get("x") == 3  # iterations 0, 1 and 2 finished


# -- threads ---------------------------------------------------------------------------------------
@pytest.mark.slow
def test_one_pipeline_called_from_eight_threads_matches_sequential_results():
    pipe = get_block("shapes.text2img").init_pipeline()
    prompts = ["a red circle", "a blue square", "a green triangle", "a yellow circle"] * 2
    kwargs = {"num_inference_steps": 4, "output_type": "pt", "show_progress": False}

    def run(i):
        return pipe(prompt=prompts[i], generator=torch.Generator().manual_seed(i), output="images", **kwargs)

    expected = [run(i) for i in range(8)]
    results: list[Any] = [None] * 8
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def worker(i):
        try:
            barrier.wait()
            results[i] = run(i)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for want, got in zip(expected, results):
        assert torch.equal(want, got)
    # the pipeline's own scheduler was never advanced by a call
    assert pipe.scheduler.step_index is None


class _Counter:
    per_call_copy = True  # a component that keeps per-run state says so

    def __init__(self) -> None:
        self.steps: list[int] = []


class _UsesStateful(PipelineBlock):
    @property
    def expected_components(self):
        return [
            ComponentSpec("counter", _Counter),
            ComponentSpec("guider", "diffusers:ClassifierFreeGuidance"),
        ]

    @property
    def intermediate_outputs(self):
        return [OutputParam("seen")]

    def __call__(self, components, state):
        bs = self.get_block_state(state)
        components.counter.steps.append(1)
        components.guider.set_state(step=3, num_inference_steps=5, timestep=torch.tensor(1))
        bs.seen = (len(components.counter.steps), components.guider._step)
        self.set_block_state(state, bs)
        return components, state


def test_stateful_components_are_fresh_copies_in_every_call():
    from diffusers import ClassifierFreeGuidance

    counter, guider = _Counter(), ClassifierFreeGuidance()
    pipe = SequentialPipelineBlocks.from_blocks_dict({"use": _UsesStateful()}).init_pipeline()
    pipe.update_components(counter=counter, guider=guider)
    assert pipe(output="seen") == (1, 3)
    assert pipe(output="seen") == (1, 3)  # not (2, 3): the second call got its own copy
    assert counter.steps == [] and guider._step is None
    assert pipe.counter is counter and pipe.guider is guider


# -- nesting -----------------------------------------------------------------------------------------
def test_nesting_past_the_recursion_limit_is_a_clear_error():
    block = leaf("Deep", outputs=[OutputParam("out")], fn=lambda bs: setattr(bs, "out", 1))
    nested: Any = SequentialPipelineBlocks.from_blocks_dict({"leaf": block})
    for _ in range(3000):
        nested = SequentialPipelineBlocks.from_blocks_dict({"level": nested})
    with pytest.raises(DiffblocksError, match="nested 3001 levels deep") as info:
        nested.init_pipeline()
    assert "recursion limit" in str(info.value)
    shallow: Any = SequentialPipelineBlocks.from_blocks_dict({"leaf": block})
    for _ in range(20):
        shallow = SequentialPipelineBlocks.from_blocks_dict({"level": shallow})
    assert shallow.init_pipeline()(output="out") == 1
