"""Modular Diffusers 0.42 compatibility, runtime half: components.config, ComponentSpec keywords,
ComponentsManager (with auto CPU offload), the ModularPipeline surface, folders that round-trip
with diffusers 0.42, and print(pipe). One test per behaviour, with our own blocks."""

from __future__ import annotations

import json
import warnings

import pytest
from diffblocks import (
    ComponentLoadError,
    Components,
    ComponentsManager,
    ComponentSpec,
    ConfigSpec,
    InputParam,
    ModularPipeline,
    OutputParam,
    PipelineBlock,
    SequentialPipelineBlocks,
    progress_bar,
)

torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")


# -- blocks: written the way diffusers 0.42 blocks are (only the import differs) -----------------
class Decode(PipelineBlock):
    """Reads a config through components.config and a model through components."""

    @property
    def expected_components(self):
        return [ComponentSpec("vae", diffusers.AutoencoderKL)]

    @property
    def expected_configs(self):
        return [ConfigSpec("scale", 2.0)]

    @property
    def inputs(self):
        return [InputParam("latents", required=True)]

    @property
    def intermediate_outputs(self):
        return [OutputParam("image"), OutputParam("device_seen")]

    def __call__(self, components, state):
        block_state = self.get_block_state(state)
        vae = components.vae
        block_state.device_seen = str(next(vae.parameters()).device)
        block_state.image = block_state.latents * components.config.scale
        self.set_block_state(state, block_state)
        return components, state


class Schedule(PipelineBlock):
    @property
    def expected_components(self):
        return [
            ComponentSpec(
                "scheduler",
                type_hint=diffusers.EulerDiscreteScheduler,
                config={"num_train_timesteps": 40},
                default_creation_method="from_config",
            )
        ]

    @property
    def inputs(self):
        return [InputParam("steps", default=3)]

    @property
    def intermediate_outputs(self):
        return [OutputParam("latents"), OutputParam("timesteps")]

    def __call__(self, components, state):
        block_state = self.get_block_state(state)
        components.scheduler.set_timesteps(block_state.steps, device=components._execution_device)
        block_state.timesteps = components.scheduler.timesteps
        block_state.latents = torch.ones(1, 2, 4, 4, device=components._execution_device)
        self.set_block_state(state, block_state)
        return components, state


class Text2Img(SequentialPipelineBlocks):
    block_classes = [Schedule, Decode]
    block_names = ["schedule", "decode"]


def tiny_vae():
    torch.manual_seed(0)
    return diffusers.AutoencoderKL(
        block_out_channels=(8,), norm_num_groups=4, latent_channels=2, layers_per_block=1
    ).eval()


class Linear(torch.nn.Module):
    def __init__(self, n: int) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(n))

    def forward(self, x):
        return x * self.weight


def uses(name: str, model_type: type = Linear) -> PipelineBlock:
    """A block that takes component `name` and records its device."""

    class Uses(PipelineBlock):
        expected_components = [ComponentSpec(name, model_type)]
        intermediate_outputs = [OutputParam(f"{name}_device")]

        def __call__(self, components, state):
            block_state = self.get_block_state(state)
            setattr(block_state, f"{name}_device", next(getattr(components, name).parameters()).device.type)
            self.set_block_state(state, block_state)
            return components, state

    Uses.__name__ = f"Uses_{name}"
    return Uses()


# -- 2: components.config -------------------------------------------------------------------------
def test_block_reads_a_config_value_through_components_config():
    pipe = Text2Img().init_pipeline()
    pipe.update_components(vae=tiny_vae())
    assert pipe(output="image").mean().item() == 2.0
    pipe.update_components(scale=5.0)
    assert pipe(output="image").mean().item() == 5.0
    assert pipe.components.config.scale == 5.0 and pipe.components.config["scale"] == 5.0


# -- 3: ComponentSpec keywords, create() and load() -------------------------------------------------
def test_component_spec_takes_diffusers_keywords():
    spec = ComponentSpec(
        name="unet",
        type_hint=diffusers.UNet2DConditionModel,
        pretrained_model_name_or_path="/models/sd",
        subfolder="unet",
        variant="fp16",
        revision="main",
    )
    assert spec.default_creation_method == "from_pretrained"
    assert spec.repo == "/models/sd"
    assert spec.load_id == "/models/sd|unet|fp16|main"
    assert ComponentSpec.decode_load_id(spec.load_id)["variant"] == "fp16"
    same = ComponentSpec(
        "unet",
        diffusers.UNet2DConditionModel,
        repo="/models/sd",
        subfolder="unet",
        variant="fp16",
        revision="main",
    )
    assert same == spec and len({spec, same}) == 1  # hashable, as in diffusers


def test_spec_create_builds_from_config_without_weights():
    spec = ComponentSpec(
        "guider_like",
        type_hint=diffusers.DDIMScheduler,
        config={"num_train_timesteps": 12},
        default_creation_method="from_config",
    )
    made = spec.create(beta_schedule="linear")
    assert made.config.num_train_timesteps == 12 and made.config.beta_schedule == "linear"
    assert spec.load_id == "null"


def test_spec_load_reads_a_local_folder_and_records_where(tmp_path):
    tiny_vae().save_pretrained(tmp_path / "vae")
    spec = ComponentSpec(
        "vae", diffusers.AutoencoderKL, pretrained_model_name_or_path=str(tmp_path), subfolder="vae"
    )
    vae = spec.load(torch_dtype=torch.float16)
    assert vae.dtype == torch.float16
    assert vae._diffusers_load_id == f"{tmp_path}|vae|null|null"
    assert ComponentSpec.from_component("vae", vae).pretrained_model_name_or_path == str(tmp_path)


def test_spec_load_refuses_a_hub_id_with_a_clear_error():
    spec = ComponentSpec(
        "vae", diffusers.AutoencoderKL, pretrained_model_name_or_path="org/model", subfolder="vae"
    )
    with pytest.raises(ComponentLoadError, match="not a local folder.*never downloads"):
        spec.load()


# -- 10: ComponentsManager ------------------------------------------------------------------------
def test_manager_add_returns_an_id_and_the_same_object_twice_warns():
    manager = ComponentsManager()
    vae = tiny_vae()
    vae_id = manager.add("vae", vae)
    assert vae_id == f"vae_{id(vae)}"
    with pytest.warns(UserWarning, match="already held"):
        assert manager.add("vae", vae) == vae_id
    assert list(manager.components) == [vae_id]


def test_manager_finds_components_by_name_id_and_collection():
    manager = ComponentsManager()
    a, b = Linear(2), Linear(3)
    a_id = manager.add("unet", a, collection="base")
    b_id = manager.add("unet", b, collection="refiner")
    manager.add("vae", Linear(4), collection="base")
    assert manager.get_one(name="unet", collection="refiner") is b
    with pytest.raises(ValueError, match="matched 2"):
        manager.get_one(name="unet")
    assert sorted(manager.get_ids(["unet"])) == sorted([a_id, b_id])
    assert manager.get_components_by_names(["unet", "vae"], collection="base")["unet"] is a
    assert manager.get_components_by_ids([b_id]) == {"unet": b}


def test_manager_search_understands_or_not_and_wildcards():
    manager = ComponentsManager()
    for name in ("unet", "vae", "text_encoder", "text_encoder_2"):
        manager.add(name, Linear(1))
    assert set(manager.search_components("unet|vae")) == {"unet", "vae"}
    assert set(manager.search_components("!unet|vae")) == {"text_encoder", "text_encoder_2"}
    assert set(manager.search_components("text*")) == {"text_encoder", "text_encoder_2"}
    assert set(manager.search_components("*encoder*")) == {"text_encoder", "text_encoder_2"}
    with pytest.raises(ValueError, match="no component matches"):
        manager.search_components("controlnet")


def test_manager_collection_keeps_one_component_per_name():
    manager = ComponentsManager()
    old_id = manager.add("unet", Linear(1), collection="sd")
    new_id = manager.add("unet", Linear(1), collection="sd")
    assert old_id not in manager.components  # in no other collection: it leaves the manager
    assert manager.collections["sd"] == {new_id}
    with pytest.warns(UserWarning, match="already held"):
        manager.add("unet", manager.get(new_id), collection="refiner")  # same id, one more collection
    manager.remove_from_collection(new_id, "sd")
    assert new_id in manager.components  # still held by "refiner"
    manager.remove_from_collection(new_id, "refiner")
    assert new_id not in manager.components


def test_manager_remove_forgets_the_component():
    manager = ComponentsManager()
    unet_id = manager.add("unet", Linear(1), collection="sd")
    manager.remove(unet_id)
    assert unet_id not in manager and manager.collections["sd"] == set()


def test_manager_model_info_and_table():
    manager = ComponentsManager()
    vae_id = manager.add("vae", tiny_vae().to(torch.float16), collection="sd")
    manager.add("scheduler", diffusers.DDIMScheduler())
    info = manager.get_model_info(vae_id)
    assert info["class_name"] == "AutoencoderKL" and info["dtype"] == torch.float16
    assert info["device"].type == "cpu" and info["size_gb"] > 0 and info["adapters"] is None
    assert manager.get_model_info(vae_id, fields="collection") == {"collection": "sd"}
    table = repr(manager)
    assert vae_id in table and "AutoencoderKL" in table and "float16" in table and "DDIMScheduler" in table


def test_pipelines_register_what_they_load_in_their_collection(tmp_path):
    tiny_vae().save_pretrained(tmp_path / "vae")
    manager = ComponentsManager()
    pipe = ModularPipeline(Text2Img(), components_manager=manager, collection="t2i")
    pipe.load_components(tmp_path)
    assert manager.get_one(name="vae", collection="t2i") is pipe.vae
    other = Text2Img().init_pipeline(components_manager=manager, collection="t2i")
    assert other.vae is pipe.vae  # empty slots filled from the manager


# -- 10: auto CPU offload: the bookkeeping, on CPU with a fake device budget ("cpu" as the device)
def offload_pipeline(budget: int):
    blocks = SequentialPipelineBlocks.from_blocks_dict({"a": uses("a"), "b": uses("b"), "a2": uses("a")})
    manager = ComponentsManager()
    pipe = blocks.init_pipeline(components_manager=manager)
    pipe.update_components(a=Linear(100), b=Linear(100))  # 400 bytes each
    manager.enable_auto_cpu_offload("cpu", memory_budget=budget)
    return pipe, manager


def test_auto_offload_moves_a_model_to_the_device_when_a_block_uses_it():
    pipe, manager = offload_pipeline(budget=1000)
    offload = manager.auto_offload
    assert offload.resident_ids() == []  # models start on the CPU
    assert pipe(output=["a_device", "b_device"]) == {"a_device": "cpu", "b_device": "cpu"}
    a_id, b_id = manager.get_ids("a")[0], manager.get_ids("b")[0]
    assert offload.resident_ids() == [b_id, a_id]  # least recently used first
    assert (offload.loads, offload.evictions) == (2, 0)


def test_auto_offload_evicts_the_least_recently_used_when_short_of_memory():
    pipe, manager = offload_pipeline(budget=500)  # room for one model
    pipe()
    offload = manager.auto_offload
    assert offload.resident_ids() == manager.get_ids("a")  # b came in, went out for a again
    assert (offload.loads, offload.evictions) == (3, 2)
    assert pipe.components.get("a").weight.sum().item() == 100.0  # weights intact after the moves


def test_reading_a_model_outside_a_block_does_not_move_it():
    pipe, manager = offload_pipeline(budget=1000)
    assert pipe.a is pipe.components.get("a") is pipe.components["a"]
    assert manager.auto_offload.loads == 0


def test_auto_offload_moves_a_model_whose_forward_runs():
    manager = ComponentsManager()
    model = Linear(3)
    manager.add("m", model)
    manager.enable_auto_cpu_offload("cpu", memory_budget="1KB")
    assert not manager.auto_offload.is_resident(model)
    model(torch.ones(3))
    assert manager.auto_offload.is_resident(model)
    assert manager.get_model_info(manager.get_ids("m")[0])["has_hook"] is True


def test_disabling_auto_offload_leaves_models_on_the_cpu_with_their_weights():
    pipe, manager = offload_pipeline(budget=1000)
    pipe()
    manager.disable_auto_cpu_offload()
    a = pipe.components.get("a")
    assert a.weight.device.type == "cpu" and a.weight.sum().item() == 100.0
    assert manager.auto_offload is None and manager.execution_device is None


def test_execution_device_follows_auto_offload():
    manager = ComponentsManager()
    pipe = Text2Img().init_pipeline(components_manager=manager)
    pipe.update_components(vae=tiny_vae())
    manager.enable_auto_cpu_offload("cpu")
    assert pipe.components._execution_device == torch.device("cpu")
    assert pipe(output="device_seen") == "cpu"


# -- 11: ModularPipeline surface --------------------------------------------------------------------
def test_set_progress_bar_config_reaches_the_bars_blocks_open():
    seen = []

    class Loop(PipelineBlock):
        intermediate_outputs = [OutputParam("n")]

        def __call__(self, components, state):
            block_state = self.get_block_state(state)
            block_state.n = sum(1 for _ in progress_bar(range(3), desc="steps"))
            seen.append(type(progress_bar(range(1))).__name__)
            self.set_block_state(state, block_state)
            return components, state

    pipe = SequentialPipelineBlocks.from_blocks_dict({"loop": Loop}).init_pipeline()
    pipe.set_progress_bar_config(disable=True)
    assert pipe(output="n") == 3
    assert seen == ["range_iterator"]  # disabled: the plain iterator, no tqdm


def test_default_call_parameters_and_blocks_property():
    blocks = Text2Img()
    pipe = blocks.init_pipeline()
    assert pipe.blocks is blocks
    assert pipe.default_call_parameters == {"steps": 3}
    assert "steps" in pipe.accepted_inputs()


def test_update_components_keeps_specs_in_step(tmp_path):
    tiny_vae().save_pretrained(tmp_path / "vae")
    pipe = Text2Img().init_pipeline()
    loaded = ComponentSpec(
        "vae", diffusers.AutoencoderKL, pretrained_model_name_or_path=str(tmp_path), subfolder="vae"
    ).load()
    pipe.update_components(vae=loaded, scheduler=diffusers.DDIMScheduler(num_train_timesteps=9))
    vae_spec, sched_spec = pipe.get_component_spec("vae"), pipe.get_component_spec("scheduler")
    assert (vae_spec.pretrained_model_name_or_path, vae_spec.subfolder) == (str(tmp_path), "vae")
    assert sched_spec.type_hint is diffusers.DDIMScheduler
    assert (
        sched_spec.default_creation_method == "from_config" and sched_spec.config["num_train_timesteps"] == 9
    )


def test_load_components_by_name_with_per_component_options(tmp_path):
    tiny_vae().save_pretrained(tmp_path / "vae")
    pipe = Text2Img().init_pipeline()
    pipe.components.set_spec(
        "vae",
        ComponentSpec(
            "vae", diffusers.AutoencoderKL, pretrained_model_name_or_path=str(tmp_path), subfolder="vae"
        ),
    )
    pipe.load_components(["vae"], torch_dtype={"vae": torch.float16, "default": torch.float32})
    assert pipe.vae.dtype == torch.float16
    pipe.unload_components("vae")
    assert pipe.components.get("vae") is None and pipe.null_component_names == ["vae"]
    pipe.load_components()  # every empty pretrained component, from where its spec says
    assert pipe.vae.dtype == torch.float32


def test_unload_components_drops_them_from_the_manager():
    manager = ComponentsManager()
    pipe = Text2Img().init_pipeline(components_manager=manager)
    pipe.update_components(vae=tiny_vae())
    assert "vae" in manager
    pipe.unload_components(["vae"])
    assert "vae" not in manager and pipe.components.get("vae") is None


def test_save_pretrained_folder_loads_in_diffusers(tmp_path):
    from diffusers.modular_pipelines import ModularPipeline as DiffusersPipeline

    pipe = Text2Img().init_pipeline()
    vae = tiny_vae()
    pipe.update_components(vae=vae, scale=3.0)
    pipe.save_pretrained(tmp_path)
    index = json.loads((tmp_path / "modular_model_index.json").read_text())
    assert index["vae"][:2] == ["diffusers", "AutoencoderKL"] and index["scale"] == 3.0
    assert (tmp_path / "vae" / "diffusion_pytorch_model.safetensors").is_file()
    assert "scheduler" not in index  # created from config: not saved, as in diffusers

    class DiffusersDecode(diffusers.modular_pipelines.ModularPipelineBlocks):
        expected_components = [diffusers.modular_pipelines.ComponentSpec("vae", diffusers.AutoencoderKL)]
        expected_configs = [diffusers.modular_pipelines.ConfigSpec("scale", 2.0)]

        def __call__(self, components, state):
            return components, state

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = DiffusersPipeline(blocks=DiffusersDecode(), pretrained_model_name_or_path=str(tmp_path))
        theirs.load_components()
    assert theirs.config["scale"] == 3.0
    assert torch.equal(theirs.vae.decoder.conv_out.weight, vae.decoder.conv_out.weight)


def test_diffusers_saved_folder_loads_with_from_pretrained(tmp_path):
    class DiffusersDecode(diffusers.modular_pipelines.ModularPipelineBlocks):
        expected_components = [diffusers.modular_pipelines.ComponentSpec("vae", diffusers.AutoencoderKL)]
        expected_configs = [diffusers.modular_pipelines.ConfigSpec("scale", 2.0)]

        def __call__(self, components, state):
            return components, state

    vae = tiny_vae()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = DiffusersDecode().init_pipeline()
        theirs.update_components(vae=vae, scale=4.0)
        theirs.save_pretrained(str(tmp_path), overwrite_modular_index=True)
    ours = ModularPipeline.from_pretrained(tmp_path, blocks=Text2Img())
    assert ours.components.get("vae") is None  # specs first, loading on request (as in diffusers)
    assert ours.config.scale == 4.0
    ours.load_components(torch_dtype=torch.float16)
    assert ours.vae.dtype == torch.float16
    assert torch.equal(ours.vae.decoder.conv_out.weight.float(), vae.decoder.conv_out.weight.half().float())
    assert ours(output="image").mean().item() == 4.0


def test_from_pretrained_falls_back_to_model_index(tmp_path):
    tiny_vae().save_pretrained(tmp_path / "vae")
    (tmp_path / "model_index.json").write_text(
        json.dumps({"_class_name": "SomePipeline", "vae": ["diffusers", "AutoencoderKL"]})
    )
    pipe = ModularPipeline.from_pretrained(str(tmp_path), blocks=Text2Img())
    assert pipe.get_component_spec("vae").subfolder == "vae"
    pipe.load_components()
    assert isinstance(pipe.vae, diffusers.AutoencoderKL)


def test_trust_remote_code_is_refused_pointing_at_plugins(tmp_path):
    with pytest.raises(ComponentLoadError, match="plugin"):
        ModularPipeline.from_pretrained(tmp_path, blocks=Text2Img(), trust_remote_code=True)


# -- 12: print(pipe) -------------------------------------------------------------------------------
def test_print_pipe_shows_the_block_tree_and_loaded_components():
    pipe = Text2Img().init_pipeline()
    pipe.update_components(vae=tiny_vae().to(torch.float16))
    text = repr(pipe)
    assert "schedule: Schedule" in text and "decode: Decode" in text
    assert "vae: AutoencoderKL (float16, cpu," in text and "KiB)" in text
    assert "scheduler: EulerDiscreteScheduler" in text and "scale = 2.0" in text


# -- #10: the public Components API plugins use ------------------------------------------------------
def test_components_public_api():
    pipe = Text2Img().init_pipeline()
    comps = pipe.components
    assert isinstance(comps, Components)
    assert comps.names == ["scheduler", "vae"] and comps.config_names == ["scale"]
    assert comps.specs["vae"].type_hint is diffusers.AutoencoderKL
    vae = tiny_vae()
    comps.set("vae", vae)
    assert comps.get("vae") is vae and comps.get("scale") == 2.0
    assert dict(**comps) == {"scheduler": comps.get("scheduler"), "vae": vae}  # as diffusers' dict
    with pytest.raises(KeyError, match="(?i)did you mean 'vae'"):
        comps.get("vea")


def test_init_with_a_folder_then_load_components_applies_the_options(tmp_path):
    tiny_vae().save_pretrained(tmp_path / "vae")
    (tmp_path / "model_index.json").write_text(json.dumps({"vae": ["diffusers", "AutoencoderKL"]}))
    lazy = ModularPipeline(Text2Img(), pretrained_model_name_or_path=str(tmp_path))  # diffusers' form
    assert lazy.components.get("vae") is None
    eager = Text2Img().init_pipeline(tmp_path)  # the first-release form loads at once
    assert eager.vae.dtype == torch.float32
    eager.load_components(torch_dtype=torch.float16)  # diffusers' next line gets what it asks for
    assert eager.vae.dtype == torch.float16


def test_auto_offload_streams_a_model_larger_than_the_budget():
    torch.manual_seed(0)
    model = torch.nn.Sequential(*[torch.nn.Linear(16, 16) for _ in range(8)])  # 8 x 1088 bytes
    x = torch.randn(2, 16)
    expected = model(x)
    manager = ComponentsManager()
    model_id = manager.add("big", model)
    manager.enable_auto_cpu_offload("cpu", memory_budget=4000)
    for _ in range(2):
        assert torch.equal(model(x), expected)
    info = manager.get_model_info(model_id)
    assert 0 < info["streamed_gb"] * 2**30 <= 4000  # what it takes on the device at most
    manager.disable_auto_cpu_offload()
    assert torch.equal(model(x), expected) and manager.get_model_info(model_id)["streamed_gb"] is None
