"""compose() and validate(): pipelines by name, nested structures, problems reported together."""

import pytest
from blockfactory import leaf
from diffblocks import (
    AutoPipelineBlocks,
    CompositionError,
    InputParam,
    LoopSequentialPipelineBlocks,
    OutputParam,
    Registry,
    SequentialPipelineBlocks,
    compose,
    get_block,
    load_spec,
    save_spec,
    spec_dict,
    use_registry,
)
from test_cli_plugins import cli


def test_list_of_names_keys_after_namespace_made_unique():
    blocks = compose(["example.number", "example.add", "example.add", "example.format"])
    assert list(blocks.sub_blocks) == ["number", "add", "add_2", "format"]
    assert blocks.init_pipeline()(value=1, amount=2, output="text") == "result: 5"


def test_dict_keeps_keys_and_nested_lists_become_sequences():
    blocks = compose(
        {
            "start": "example.number",
            "math": ["example.add", {"twice": "example.multiply"}],
            "fmt": "example.format",
        }
    )
    assert list(blocks.sub_blocks) == ["start", "math", "fmt"]
    assert isinstance(blocks.sub_blocks["math"], SequentialPipelineBlocks)
    assert list(blocks.sub_blocks["math"].sub_blocks) == ["add", "group1"]
    assert blocks.init_pipeline()(value=1, output="x") == 4.0


def test_single_workflow_name_and_instances_allowed():
    assert list(compose("example.arith").sub_blocks) == ["number", "add", "multiply", "format"]
    number = leaf(
        "Num",
        inputs=[InputParam("value", required=True)],
        outputs=[OutputParam("x", float)],
        fn=lambda bs: setattr(bs, "x", float(bs.value)),
    )
    assert compose([number, "example.format"]).init_pipeline()(value=3, output="text") == "result: 3"


@pytest.mark.parametrize(
    ("name", "kind", "key"),
    [
        ("example.add_or_multiply", AutoPipelineBlocks, "add_or_multiply"),
        ("example.repeat_add", LoopSequentialPipelineBlocks, "repeat_add"),
    ],
)
def test_single_auto_or_loop_name_saves_and_reloads(tmp_path, name, kind, key):
    blocks = compose(name)
    assert isinstance(blocks.sub_blocks[key], kind)
    assert spec_dict(blocks)["blocks"] == {key: name}
    loaded = load_spec(save_spec(blocks, tmp_path / "p.toml"))
    assert list(loaded.sub_blocks) == [key]
    assert type(loaded.sub_blocks[key]) is type(blocks.sub_blocks[key])
    # a registered instance (not a name) wraps the same way
    assert spec_dict(compose(get_block(name)))["blocks"] == {key: name}


def test_cli_compose_single_auto_name_saves(tmp_path):
    out = cli("compose", "example.add_or_multiply", "--save", str(tmp_path / "ao.toml"))
    assert out.returncode == 0, out.stderr
    assert 'add_or_multiply = "example.add_or_multiply"' in (tmp_path / "ao.toml").read_text()
    assert cli("validate", str(tmp_path / "ao.toml")).returncode == 0


def test_composed_pipeline_gets_the_family():
    blocks = compose(["example.number", "example.format"])
    assert blocks.model_name == "example"
    assert blocks.init_pipeline().family.name == "example"


def test_all_unknown_names_reported_together_with_suggestions():
    with pytest.raises(CompositionError) as info:
        compose(["example.numbr", "example.add", "nothere.block"])
    err = info.value
    assert err.codes == ["unknown-name", "unknown-name"]
    assert "Did you mean 'example.number'" in str(err) and "'nothere.block'" in str(err)
    assert err.problems[0].path == "numbr"


def test_required_input_nothing_provides_is_a_pipeline_input_not_a_problem():
    report = compose(["example.add", "example.format"]).validate()
    assert report.required_inputs == ["x"]
    assert "x" in report.pipeline_inputs


@pytest.fixture
def reg():
    with use_registry(Registry(autoload=False)) as registry:
        yield registry


def test_shadowed_outputs_and_type_conflicts_reported_together(reg):
    reg.register("t.make_a", leaf("MakeA", outputs=[OutputParam("latents", int)]))
    reg.register("t.make_b", leaf("MakeB", outputs=[OutputParam("latents", int)]))
    reg.register("t.use", leaf("Use", intermediate_inputs=[InputParam("latents", str)]))
    with pytest.raises(CompositionError) as info:
        compose(["t.make_a", "t.make_b", "t.use"])
    problems = {(p.code, p.path, p.param) for p in info.value.problems}
    assert problems == {("shadowed-output", "make_b", "latents"), ("type-conflict", "use", "latents")}
    text = str(info.value)
    assert "'make_a'" in text and "expects str" in text


def test_an_output_declared_as_replacing_is_not_shadowing(reg):
    reg.register("t.make_a", leaf("MakeA", outputs=[OutputParam("image", int)]))
    reg.register("t.make_b", leaf("MakeB", outputs=[OutputParam("image", int, replaces=True)]))
    reg.register("t.use", leaf("Use", intermediate_inputs=[InputParam("image", int)]))
    blocks = compose(["t.make_a", "t.make_b", "t.use"])  # validates: the overwrite is declared
    assert list(blocks.sub_blocks) == ["make_a", "make_b", "use"]


def test_modifying_a_value_is_not_shadowing_and_numbers_are_compatible(reg):
    reg.register("t.make", leaf("Make", outputs=[OutputParam("x", int)]))
    reg.register(
        "t.add", leaf("Add", intermediate_inputs=[InputParam("x", float)], outputs=[OutputParam("x", float)])
    )
    compose(["t.make", "t.add", "t.add"]).validate()


def test_auto_trigger_problems(reg):
    class Bad(AutoPipelineBlocks):
        block_classes = [type(leaf("Img", inputs=[InputParam("image")])), type(leaf("Txt"))]
        block_names = ["img", "txt"]
        block_trigger_inputs = ["imagee", None]

    class Defaulted(AutoPipelineBlocks):
        block_classes = [type(leaf("Img", inputs=[InputParam("strength", default=0.8)]))]
        block_names = ["img"]
        block_trigger_inputs = ["strength"]

    with pytest.raises(CompositionError) as info:
        SequentialPipelineBlocks.from_blocks_dict({"a": Bad(), "b": Defaulted()}).validate()
    assert info.value.codes == ["unreachable-branch", "trigger-has-default"]


def test_empty_and_bad_items(reg):
    with pytest.raises(CompositionError, match="nothing to compose"):
        compose([])
    with pytest.raises(CompositionError, match="is not a block name"):
        compose([42])
    with pytest.raises(TypeError):
        compose(3.5)
