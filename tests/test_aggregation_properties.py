"""Property-based tests of the aggregation rules over random block chains (hypothesis)."""

from __future__ import annotations

import copy

from blockfactory import leaf
from diffblocks import InputParam, MissingInputError, OutputParam, SequentialPipelineBlocks
from hypothesis import given, settings
from hypothesis import strategies as st

NAMES = ["a", "b", "c", "d", "e", "f"]

param = st.builds(
    lambda name, required, default: InputParam(name, required=required, default=default),
    st.sampled_from(NAMES),
    st.booleans(),
    st.sampled_from([None, None, 1, 2]),
)
block_decl = st.tuples(
    st.lists(param, max_size=3),
    st.lists(param, max_size=3),
    st.lists(st.sampled_from(NAMES), max_size=3, unique=True),
)
chains = st.lists(block_decl, min_size=1, max_size=6)


def build(decls):
    blocks = {}
    for i, (ins, inter, outs) in enumerate(decls):

        def fn(bs, outs=outs):
            for o in outs:
                setattr(bs, o, o)

        blocks[f"b{i}"] = leaf(
            f"B{i}", inputs=ins, intermediate_inputs=inter, outputs=[OutputParam(o) for o in outs], fn=fn
        )
    return SequentialPipelineBlocks.from_blocks_dict(blocks)


def expected(decls, kind):
    produced: set[str] = set()
    order: dict[str, bool] = {}
    for ins, inter, outs in decls:
        for p in ins if kind == "inputs" else inter:
            if p.name not in produced:
                order[p.name] = order.get(p.name, False) or p.required
        produced |= set(outs)
    return order


@settings(max_examples=150, deadline=None)
@given(chains)
def test_inputs_are_first_seen_unproduced_names_with_union_of_required(decls):
    blocks = build(decls)
    for kind in ("inputs", "intermediate_inputs"):
        want = expected(decls, kind)
        got = getattr(blocks, kind)
        assert [p.name for p in got] == list(want)
        assert {p.name: p.required for p in got} == want


@settings(max_examples=150, deadline=None)
@given(chains)
def test_outputs_are_the_ordered_union(decls):
    blocks = build(decls)
    want = list(dict.fromkeys(o for _, _, outs in decls for o in outs))
    assert [o.name for o in blocks.intermediate_outputs] == want


@settings(max_examples=100, deadline=None)
@given(chains)
def test_aggregation_never_mutates_sub_block_params(decls):
    before = copy.deepcopy(decls)
    blocks = build(decls)
    blocks.inputs, blocks.intermediate_inputs, blocks.doc  # noqa: B018
    assert repr(decls) == repr(before)


@settings(max_examples=100, deadline=None)
@given(chains)
def test_giving_every_pipeline_input_is_enough_and_dropping_a_required_one_is_reported(decls):
    blocks = build(decls)
    pipe = blocks.init_pipeline()
    given_values = {p.name: 0 for p in blocks.inputs + blocks.intermediate_inputs}
    state = pipe(**given_values)
    for _, _, outs in decls:
        for o in outs:
            assert state.get(o) == o
    # a required input with a default can never be missing
    params = blocks.inputs + blocks.intermediate_inputs
    with_default = {p.name for p in params if p.default is not None}
    required = {p.name for p in params if p.required} - with_default
    for name in required:
        values = dict(given_values)
        del values[name]
        try:
            pipe(**values)
        except MissingInputError as err:
            assert name in err.names
        else:
            raise AssertionError(f"missing {name!r} not reported")


@settings(max_examples=60, deadline=None)
@given(chains)
def test_doc_and_repr_are_deterministic(decls):
    assert build(decls).doc == build(decls).doc
    assert repr(build(decls)) == repr(build(decls))
