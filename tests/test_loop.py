"""LoopSequentialPipelineBlocks: shared block state, kwargs, surgery, partial results on failure."""

import pytest
from blockfactory import leaf
from diffblocks import (
    BlockExecutionError,
    InputParam,
    LoopSequentialPipelineBlocks,
    OutputParam,
    PipelineBlock,
)


class Scale(PipelineBlock):
    @property
    def intermediate_inputs(self):
        return [InputParam("latents", required=True)]

    def __call__(self, components, block_state, i, t):
        block_state.latents = block_state.latents * 2
        return components, block_state


class AddT(PipelineBlock):
    @property
    def intermediate_inputs(self):
        return [InputParam("latents", required=True)]

    def __call__(self, components, block_state, i, t):
        block_state.latents = block_state.latents + t
        block_state.trace.append(i)
        return components, block_state


class Boom(PipelineBlock):
    def __call__(self, components, block_state, i, t):
        if i == 2:
            raise ValueError("nan in latents")
        return components, block_state


class Denoise(LoopSequentialPipelineBlocks):
    block_classes = [Scale, AddT]
    block_names = ["scale", "add"]

    @property
    def loop_inputs(self):
        return [InputParam("timesteps", required=True)]

    @property
    def loop_intermediate_outputs(self):
        return [OutputParam("latents"), OutputParam("trace")]

    def __call__(self, components, state):
        bs = self.get_block_state(state)
        bs.trace = []
        for i, t in enumerate(bs.timesteps):
            components, bs = self.loop_step(components, bs, i=i, t=t)
        self.set_block_state(state, bs)
        return components, state


def test_loop_runs_sub_blocks_on_one_block_state():
    pipe = Denoise().init_pipeline()
    out = pipe(latents=1, timesteps=[10, 20, 30], output=["latents", "trace"])
    # ((1*2+10)*2+20)*2+30
    assert out == {"latents": 118, "trace": [0, 1, 2]}


def test_loop_aggregates_wrapper_and_sub_block_declarations():
    loop = Denoise()
    assert [p.name for p in loop.inputs] == ["timesteps"]
    assert [p.name for p in loop.intermediate_inputs] == ["latents"]
    assert set(loop.required_inputs + loop.required_intermediate_inputs) == {"timesteps", "latents"}
    assert [o.name for o in loop.intermediate_outputs] == ["latents", "trace"]


def test_loop_step_with_other_keyword_names_still_works():
    class Other(LoopSequentialPipelineBlocks):
        block_classes = [
            type(
                "Inc",
                (PipelineBlock,),
                {"__call__": lambda s, c, bs, step: (c, setattr(bs, "n", bs.n + step) or bs)},
            )
        ]
        block_names = ["inc"]

        @property
        def loop_intermediate_inputs(self):
            return [InputParam("n")]

        @property
        def loop_intermediate_outputs(self):
            return [OutputParam("n")]

        def __call__(self, components, state):
            bs = self.get_block_state(state)
            for k in range(3):
                components, bs = self.loop_step(components, bs, step=k)
            components, bs = self.loop_step(components, bs, **{"step": 10})
            self.set_block_state(state, bs)
            return components, state

    assert Other().init_pipeline()(n=0, output="n") == 13


def test_loop_surgery_is_seen_by_the_compiled_step():
    loop = Denoise()
    pipe = loop.init_pipeline()
    assert pipe(latents=1, timesteps=[1], output="latents") == 3
    loop.sub_blocks.pop("scale")
    assert pipe(latents=1, timesteps=[1, 1], output="latents") == 3


def test_failing_step_keeps_finished_work_and_names_the_path():
    loop = Denoise()
    loop.sub_blocks["boom"] = Boom()
    pipe = loop.init_pipeline()
    with pytest.raises(BlockExecutionError) as info:
        pipe(latents=1, timesteps=[1, 1, 1, 1], output="latents")
    err = info.value
    assert err.block_path == "boom" and "Boom" in str(err) and "nan in latents" in str(err)
    assert isinstance(err.__cause__, ValueError)
    # two full steps and the third's scale/add ran before the failure: nothing is lost
    assert err.state.intermediates["latents"] == ((1 * 2 + 1) * 2 + 1) * 2 + 1
    assert err.state.intermediates["trace"] == [0, 1, 2]


def test_failing_loop_inside_a_sequence_reports_full_path():
    from diffblocks import SequentialPipelineBlocks

    loop = Denoise()
    loop.sub_blocks["boom"] = Boom()
    seq = SequentialPipelineBlocks.from_blocks_dict({"prep": leaf("Prep"), "denoise": loop})
    with pytest.raises(BlockExecutionError) as info:
        seq.init_pipeline()(latents=1, timesteps=[0, 0, 0])
    assert info.value.block_path == "denoise.boom"
    assert info.value.state.intermediates["trace"] == [0, 1, 2]


def test_loop_without_call_explains_what_to_write():
    class NoCall(LoopSequentialPipelineBlocks):
        block_classes = [Scale]
        block_names = ["scale"]

    with pytest.raises(BlockExecutionError, match="must implement __call__"):
        NoCall().init_pipeline()(latents=1)


def test_loop_values_reach_sub_blocks_by_name_whatever_their_parameter_order():
    from diffblocks import InputParam, LoopSequentialPipelineBlocks, OutputParam, PipelineBlock

    class Forward(PipelineBlock):
        def __call__(self, components, block_state, i, t):
            block_state.seen.append(("forward", i, t))
            return components, block_state

    class Backward(PipelineBlock):  # same names, other order: must not get them by position
        def __call__(self, components, block_state, t, i):
            block_state.seen.append(("backward", i, t))
            return components, block_state

    class OnlyIndex(PipelineBlock):
        def __call__(self, components, block_state, i, scale=2):
            block_state.seen.append(("index", i * scale))
            return components, block_state

    class Loop(LoopSequentialPipelineBlocks):
        @property
        def loop_intermediate_outputs(self):
            return [OutputParam("seen")]

        @property
        def loop_inputs(self):
            return [InputParam("steps", int, default=2)]

        def __call__(self, components, state):
            bs = self.get_block_state(state)
            bs.seen = []
            for i in range(bs.steps):
                components, bs = self.loop_step(components, bs, i=i, t=10 * i)
            self.set_block_state(state, bs)
            return components, state

    class IndexLoop(Loop):
        def __call__(self, components, state):
            bs = self.get_block_state(state)
            bs.seen = []
            for i in range(bs.steps):
                components, bs = self.loop_step(components, bs, i=i)
            self.set_block_state(state, bs)
            return components, state

    mixed = Loop.from_blocks_dict({"f": Forward, "b": Backward}).init_pipeline()
    assert mixed(output="seen") == [
        ("forward", 0, 0),
        ("backward", 0, 0),
        ("forward", 1, 10),
        ("backward", 1, 10),
    ]
    same = Loop.from_blocks_dict({"f": Forward, "g": Forward}).init_pipeline()
    assert same(output="seen")[-1] == ("forward", 1, 10)
    index_only = IndexLoop.from_blocks_dict({"x": OnlyIndex}).init_pipeline()
    assert index_only(output="seen") == [("index", 0), ("index", 2)]
