"""Loading from a local diffusers folder, swapping schedulers, sharing components, errors."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import fresh_scheduler, run_text2img
from diffblocks import ComponentsManager, InvalidInputError, MissingComponentError, get_block


def save_folder(components, folder):
    index = {"_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.42.1"}
    for name in ("unet", "vae", "text_encoder", "tokenizer", "scheduler"):
        components[name].save_pretrained(folder / name)
        index[name] = [
            "diffusers" if name in ("unet", "vae", "scheduler") else "transformers",
            type(components[name]).__name__,
        ]
    index["safety_checker"] = [None, None]
    (folder / "model_index.json").write_text(json.dumps(index))


def test_load_components_from_a_saved_folder_gives_the_same_images(components, tmp_path):
    save_folder(components, tmp_path)
    loaded = get_block("sd.text2img").init_pipeline()
    loaded.load_components(tmp_path, torch_dtype=torch.float32)
    assert type(loaded.unet).__name__ == "UNet2DConditionModel"
    assert loaded.vae_scale_factor == 2 and loaded.image_processor.config.vae_scale_factor == 2
    live = get_block("sd.text2img").init_pipeline()
    live.update_components(**{**components, "scheduler": fresh_scheduler(components["scheduler"])})
    assert abs(run_text2img(loaded) - run_text2img(live)).max() < 1e-6
    assert (tmp_path / "unet" / "diffusion_pytorch_model.safetensors").exists()


def test_swapping_the_scheduler_changes_the_result(components):
    import diffusers

    pipe = get_block("sd.text2img").init_pipeline()
    pipe.update_components(**components)
    ddim = run_text2img(pipe)
    pipe.update_components(
        scheduler=diffusers.EulerDiscreteScheduler.from_config(components["scheduler"].config)
    )
    euler = run_text2img(pipe)
    assert isinstance(pipe.scheduler, diffusers.EulerDiscreteScheduler)
    assert abs(ddim - euler).max() > 1e-3


def test_missing_component_named_with_the_block_before_running(components):
    pipe = get_block("sd.text2img").init_pipeline()
    pipe.update_components(**{k: v for k, v in components.items() if k != "vae"})
    with pytest.raises(MissingComponentError) as info:
        run_text2img(pipe)
    text = str(info.value)
    assert "'vae'" in text and "'prepare_latents'" in text and "'decode'" in text
    assert "load_components" in text


def test_two_pipelines_share_one_unet_through_a_manager(components):
    manager = ComponentsManager()
    first = get_block("sd.text2img").init_pipeline(components_manager=manager)
    first.update_components(**components)
    alone = manager.memory_bytes()
    second = get_block("sd.img2img").init_pipeline(components_manager=manager)
    assert second.unet is first.unet and second.vae is first.vae
    assert manager.memory_bytes() == alone  # nothing counted twice
    unet_bytes = sum(p.numel() * p.element_size() for p in components["unet"].parameters())
    assert alone > unet_bytes


def test_callback_sees_each_step_and_can_replace_latents(components):
    pipe = get_block("sd.text2img").init_pipeline()
    pipe.update_components(**components)
    seen = []

    def callback(comps, i, t, values):
        seen.append((i, int(t)))
        if i == 1:
            return {"latents": torch.zeros_like(values["latents"])}

    latents = pipe(
        prompt="a cat",
        num_inference_steps=2,
        height=32,
        width=32,
        output_type="latent",
        callback_on_step_end=callback,
        show_progress=False,
        output="images",
    )
    assert [i for i, _ in seen] == [0, 1]
    assert torch.count_nonzero(latents) == 0


def test_family_pipeline_class_and_workflows():
    from diffblocks import get_family
    from diffblocks_sd.pipeline import StableDiffusionModularPipeline

    family = get_family("sd")
    assert family.workflows["inpaint"] == "sd.inpaint"
    assert isinstance(get_block("sd.text2img").init_pipeline(), StableDiffusionModularPipeline)
    assert {c.name for c in family.components} >= {"unet", "vae", "text_encoder", "tokenizer", "scheduler"}


def test_bad_inputs_are_explained(components, images):
    pipe = get_block("sd.img2img").init_pipeline()
    pipe.update_components(**components)
    # declared ranges are checked before any block runs, so no prompt is encoded for nothing
    with pytest.raises(
        InvalidInputError, match=r"'strength' for block '[\w.]+' \(\w+\): must be >= 0 and <= 1; got 1.5"
    ):
        pipe(prompt="a cat", image=images[0], strength=1.5, show_progress=False)
    with pytest.raises(Exception, match="'image' is required by block 'vae_encoder'"):
        pipe(prompt="a cat")


def test_sd_plugin_hook_module_is_light():
    import subprocess
    import sys

    code = "import sys, diffblocks_sd.plugin; print('torch' in sys.modules, 'diffusers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_cli_runs_a_spec_file_with_component_paths(components, tmp_path):
    import os
    import shutil
    import subprocess
    import sys

    from PIL import Image

    save_folder(components, tmp_path / "model")
    spec = tmp_path / "sd.toml"
    names = ("unet", "vae", "text_encoder", "tokenizer", "scheduler")
    spec.write_text(
        'diffblocks_spec = 1\nworkflow = "sd.text2img"\n[inputs]\nnum_inference_steps = 2\nheight = 32\nwidth = 32\n'
        + "".join(f'[components.{n}]\npath = "{tmp_path / "model"}"\n' for n in names)
    )
    exe = shutil.which("diffblocks", path=os.path.dirname(sys.executable))
    out = subprocess.run(
        [exe, "run", str(spec), "--set", "prompt=a cat", "--seed", "0", "--out", str(tmp_path / "cat.png")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert Image.open(tmp_path / "cat.png").size == (32, 32)
