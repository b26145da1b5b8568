"""ComponentSpec / ConfigSpec and a pipeline's components: create, load from folders, update."""

import json

import pytest
from blockfactory import leaf
from diffblocks import (
    ComponentLoadError,
    ComponentSpec,
    ConfigSpec,
    InputParam,
    MissingComponentError,
    OutputParam,
    SequentialPipelineBlocks,
)

diffusers = pytest.importorskip("diffusers")


def sched_spec(**kw):
    return ComponentSpec(
        "scheduler", diffusers.DDIMScheduler, "noise schedule", config={"num_train_timesteps": 100}, **kw
    )


def uses_scheduler(spec):
    def fn(bs):
        bs.n = None

    return leaf(
        "UsesScheduler",
        inputs=[InputParam("k")],
        outputs=[OutputParam("n")],
        fn=lambda bs: setattr(bs, "n", 1),
        components=[spec],
    )


def test_from_config_component_created_at_init_without_weights():
    blocks = SequentialPipelineBlocks.from_blocks_dict(
        {"b": uses_scheduler(sched_spec(default_creation_method="from_config"))}
    )
    pipe = blocks.init_pipeline()
    assert isinstance(pipe.components.scheduler, diffusers.DDIMScheduler)
    assert pipe.components.scheduler.config.num_train_timesteps == 100
    assert pipe.scheduler is pipe.components.scheduler


def test_from_pretrained_component_loads_from_a_local_diffusers_folder(tmp_path):
    diffusers.EulerDiscreteScheduler(num_train_timesteps=77).save_pretrained(tmp_path / "scheduler")
    (tmp_path / "model_index.json").write_text(
        json.dumps({"_class_name": "X", "scheduler": ["diffusers", "EulerDiscreteScheduler"]})
    )
    spec = ComponentSpec("scheduler", diffusers.EulerDiscreteScheduler)
    pipe = SequentialPipelineBlocks.from_blocks_dict({"b": uses_scheduler(spec)}).init_pipeline()
    assert pipe.components.scheduler is None
    pipe.load_components(tmp_path)
    assert pipe.components.scheduler.config.num_train_timesteps == 77
    pipe2 = SequentialPipelineBlocks.from_blocks_dict({"b": uses_scheduler(spec)}).init_pipeline(tmp_path)
    assert pipe2.scheduler.config.num_train_timesteps == 77


def test_loading_refuses_non_local_paths():
    spec = ComponentSpec("scheduler", diffusers.EulerDiscreteScheduler, repo="some-org/some-model")
    with pytest.raises(ComponentLoadError, match="never downloads"):
        spec.load()


def test_missing_component_named_with_the_block_before_running():
    spec = ComponentSpec("scheduler", diffusers.EulerDiscreteScheduler)
    blocks = SequentialPipelineBlocks.from_blocks_dict({"denoise": uses_scheduler(spec)})
    pipe = blocks.init_pipeline()
    with pytest.raises(MissingComponentError) as info:
        pipe(k=1)
    assert "'scheduler'" in str(info.value) and "'denoise'" in str(info.value)
    pipe.update_components(scheduler=diffusers.EulerDiscreteScheduler())
    assert pipe(k=1, output="n") == 1


def test_update_components_rejects_unknown_names_with_suggestion():
    pipe = SequentialPipelineBlocks.from_blocks_dict({"b": uses_scheduler(sched_spec())}).init_pipeline()
    with pytest.raises(ComponentLoadError, match="did you mean 'scheduler'"):
        pipe.update_components(schedular=1)
    with pytest.raises(AttributeError, match="Did you mean 'scheduler'"):
        pipe.components.schedulr


def test_load_components_misspelt_name_suggests_instead_of_treating_it_as_a_folder(tmp_path, monkeypatch):
    pipe = SequentialPipelineBlocks.from_blocks_dict({"b": uses_scheduler(sched_spec())}).init_pipeline()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ComponentLoadError, match="did you mean 'scheduler'") as info:
        pipe.load_components("schedulr")
    assert "not a local folder" not in str(info.value)
    # a folder of that name is still a folder
    (tmp_path / "schedulr" / "scheduler").mkdir(parents=True)
    with pytest.raises(ComponentLoadError) as info:
        pipe.load_components("schedulr")
    assert "did you mean" not in str(info.value)


def test_configs_have_defaults_and_update():
    block = leaf("Cfg")
    type(block).expected_configs = property(lambda self: [ConfigSpec("requires_safety", False, "x")])
    pipe = SequentialPipelineBlocks.from_blocks_dict({"c": block}).init_pipeline()
    assert pipe.config == {"requires_safety": False}
    assert pipe.components.requires_safety is False
    pipe.update_components(requires_safety=True)
    assert pipe.config["requires_safety"] is True


def test_component_spec_repo_alias_and_bad_method():
    assert ComponentSpec("a", repo="/x").pretrained_model_name_or_path == "/x"
    with pytest.raises(ComponentLoadError):
        ComponentSpec("a", default_creation_method="download")


def test_component_loader_hook_replaces_from_pretrained(tmp_path):
    import types

    from diffblocks import Registry, hookimpl, use_registry

    class Vocabulary:
        pass

    (tmp_path / "vocab").mkdir()
    (tmp_path / "vocab" / "words.txt").write_text("a b c")
    plugin = types.ModuleType("loader_plugin")

    @hookimpl
    def register_component_loaders(registry):
        registry.register(
            "Vocabulary",
            lambda spec, path, **kw: (tmp_path / kw["subfolder"] / "words.txt").read_text().split(),
        )

    plugin.register_component_loaders = register_component_loaders
    block = leaf("Tok", components=[ComponentSpec("vocab", Vocabulary)])
    with use_registry(Registry(autoload=False)) as registry:
        registry.add_plugin(plugin, name="loader-plugin")
        pipe = SequentialPipelineBlocks.from_blocks_dict({"tok": block}).init_pipeline()
        pipe.load_components(tmp_path, names=["vocab"])
    assert pipe.components.vocab == ["a", "b", "c"]


def test_plugins_and_cli_touch_no_private_attribute_of_diffblocks_objects():
    """Plugins and front ends use public API only (Components.get/set/specs, accepted_inputs, ...):
    no `obj._name` where `_name` is private to a diffblocks class (issue #10)."""
    import ast
    from pathlib import Path

    root = Path(__file__).parent.parent
    core = root / "core" / "diffblocks"
    private: set[str] = set()
    for file in core.rglob("*.py"):
        if "_front" in file.parts:
            continue
        for cls in (n for n in ast.walk(ast.parse(file.read_text())) if isinstance(n, ast.ClassDef)):
            for node in ast.walk(cls):
                name = None
                if (
                    isinstance(node, ast.Attribute)
                    and isinstance(node.value, ast.Name)
                    and node.value.id == "self"
                ):
                    name = node.attr
                elif isinstance(node, ast.FunctionDef):
                    name = node.name
                if name and name.startswith("_") and not name.startswith("__"):
                    private.add(name)
    private.discard("_execution_device")  # diffusers' name, read by 0.42 blocks: public by contract
    users = [*root.glob("plugins/*/src/**/*.py"), *(core / "_front").rglob("*.py"), core / "cli.py"]
    found = [
        f"{file.relative_to(root)}:{node.lineno}: {ast.unparse(node)}"
        for file in users
        for node in ast.walk(ast.parse(file.read_text()))
        if isinstance(node, ast.Attribute)
        and node.attr in private
        and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
    ]
    assert found == []
