"""The shared row executor's rules (diffblocks._front._rows), on declarations alone: no model."""

from __future__ import annotations

import pytest
from diffblocks import InputParam, PipelineBlock, SequentialPipelineBlocks
from diffblocks._front._rows import InputRules, Row, RowInputError, RowRunner, admits_str, is_per_row


@pytest.mark.parametrize(
    ("hint", "per_row"),
    [
        ("str | list[str]", True),
        ("torch.Generator | list[torch.Generator]", True),
        ("PIL.Image.Image | torch.Tensor | list", True),
        ("Optional[Union[str, List[str]]]", True),
        (str | list[str], True),
        ("list[int]", False),  # a list by nature (timesteps): one value shared by the call
        (int, False),
        ("torch.Tensor", False),
        (None, False),
    ],
)
def test_per_row_inputs_are_those_taking_one_value_or_a_list(hint, per_row):
    assert is_per_row(hint) is per_row


def test_csv_cells_stay_text_only_where_text_is_accepted():
    assert admits_str("str | list[str]") and admits_str(None) and not admits_str(int)


RULES = InputRules(
    {
        "prompt": "str | list[str]",
        "steps": int,
        "scale": float,
        "timesteps": "list[int]",
        "latents": "torch.Tensor",
        "generator": "torch.Generator | list[torch.Generator]",
    },
    required=["prompt"],
)


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"prompt": "a", "stepz": 3}, "unknown input 'stepz' (did you mean 'steps'?)"),
        ({"prompt": "a", "steps": "3"}, "'steps' expects int, got str '3'"),
        ({"prompt": "a", "steps": True}, "'steps' expects int, got bool True"),
        ({"prompt": "a", "timesteps": [1, "x"]}, "'timesteps' expects list[int]"),
        ({"prompt": "a", "latents": "noise.pt"}, "'latents' expects torch.Tensor, got str"),
        (
            {"prompt": ["a", "b"]},
            "'prompt' takes one value per row, got a list; put each value on its own row",
        ),
        ({"prompt": "a", "generator": 1}, "'generator' cannot be given per row; give a 'seed' instead"),
        ({"steps": 3}, "missing required input(s): prompt"),
    ],
)
def test_row_checks_name_the_input_and_the_fix(inputs, message):
    with pytest.raises(RowInputError) as info:
        RULES.check(inputs)
    assert message in str(info.value)


def test_good_rows_pass_ints_count_as_floats_and_shared_values_need_not_be_complete():
    RULES.check({"prompt": "a", "steps": 3, "scale": 4, "timesteps": [999, 500]})
    RULES.check({"steps": 3}, complete=False)


def test_compatible_rows_share_a_key_others_do_not():
    a = Row("a", {"prompt": "x", "steps": 3}, seed=1)
    b = Row("b", {"prompt": "y", "steps": 3}, seed=2)
    assert RULES.key(a) == RULES.key(b)
    assert RULES.key(a) != RULES.key(Row("c", {"prompt": "x", "steps": 4}, seed=1))
    assert RULES.key(a) != RULES.key(Row("d", {"prompt": "x", "steps": 3}, seed=None))
    assert RULES.key(a) != RULES.key(Row("e", {"steps": 3}, seed=1))


CALLS: list = []


class Echo(PipelineBlock):
    """Returns one 'image' per prompt: the prompt and the first value its generator draws."""

    @property
    def inputs(self):
        return [
            InputParam("prompt", "str | list[str]", required=True),
            InputParam("generator", "torch.Generator | list[torch.Generator]"),
            InputParam("fail_on", str),
        ]

    @property
    def intermediate_outputs(self):
        from diffblocks import OutputParam

        return [OutputParam("images", list)]

    def __call__(self, components, state):
        import torch

        bs = self.get_block_state(state)
        CALLS.append(bs.prompt)
        prompts = [bs.prompt] if isinstance(bs.prompt, str) else bs.prompt
        if bs.fail_on in prompts:
            raise ValueError(f"cannot draw {bs.fail_on!r}")
        gens = bs.generator if isinstance(bs.generator, list) else [bs.generator] * len(prompts)
        bs.images = [(p, float(torch.rand(1, generator=g))) for p, g in zip(prompts, gens)]
        self.set_block_state(state, bs)
        return components, state


def test_runner_batches_seeds_per_row_and_isolates_a_failing_row():
    import torch

    pipe = SequentialPipelineBlocks.from_blocks_dict({"echo": Echo}).init_pipeline()
    runner = RowRunner(pipe, max_batch_size=3)
    rows = [
        Row(str(i), {"prompt": p, "fail_on": "bad"}, seed=i) for i, p in enumerate(["a", "b", "bad", "c"])
    ]
    results = runner.run(rows)
    assert [r.ok for r in results] == [True, True, False, True]
    assert results[2].error == "block 'echo' (Echo) raised ValueError: cannot draw 'bad'."
    for row, result in zip(rows, results):
        if result.ok:
            expected = float(torch.rand(1, generator=torch.Generator().manual_seed(row.seed)))
            assert result.images == [(row.inputs["prompt"], expected)]
    # one call of 3 rows failed, then each of its rows alone; the last row in its own call
    assert CALLS == [["a", "b", "bad"], "a", "b", "bad", "c"]


def test_rows_are_checked_by_the_pipelines_own_type_checker():
    from diffblocks._model._hints import compile_hint

    rules = InputRules(
        {"weights": "dict[str, float]", "size": "tuple[int, int]", "prompt": "str | list[str]"}
    )
    hint = compile_hint("dict[str, float]")
    assert hint is not None and not hint.ok({"a": "x"})
    with pytest.raises(RowInputError, match="'weights' expects dict"):
        rules.check({"weights": {"a": "x"}})  # the pipeline would refuse it: so does the row check
    rules.check({"weights": {"a": 1}, "size": [64, 64], "prompt": "p"})  # a list stands for a tuple
