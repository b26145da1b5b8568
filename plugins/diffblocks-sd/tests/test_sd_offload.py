"""Text-to-image through a ComponentsManager's auto CPU offload (on the CPU, with a budget that
holds one model at a time): same images, each model moved in once per image."""

from __future__ import annotations

import numpy as np
import torch
from conftest import fresh_scheduler, run_text2img
from diffblocks import ComponentsManager, get_block


def test_text2img_with_auto_offload_gives_the_same_images_moving_each_model_once(components):
    plain = get_block("sd.text2img").init_pipeline()
    plain.update_components(**{**components, "scheduler": fresh_scheduler(components["scheduler"])})
    expected = run_text2img(plain)

    manager = ComponentsManager()
    pipe = get_block("sd.text2img").init_pipeline(components_manager=manager, collection="sd")
    pipe.update_components(**{**components, "scheduler": fresh_scheduler(components["scheduler"])})
    models = [v for v in components.values() if isinstance(v, torch.nn.Module)]
    biggest = max(sum(t.numel() * t.element_size() for t in [*m.parameters(), *m.buffers()]) for m in models)
    manager.enable_auto_cpu_offload("cpu", memory_budget=biggest)
    for _ in range(2):
        np.testing.assert_allclose(run_text2img(pipe), expected, atol=1e-6)
    offload = manager.auto_offload
    # text encoder, unet, vae: one move in each per image; reading a config does not move a model
    assert offload.loads == 6
    assert offload.resident_ids() == manager.get_ids("vae", collection="sd")


def test_text2img_streams_a_unet_larger_than_the_budget(components):
    plain = get_block("sd.text2img").init_pipeline()
    plain.update_components(**{**components, "scheduler": fresh_scheduler(components["scheduler"])})
    expected = run_text2img(plain)

    manager = ComponentsManager()
    pipe = get_block("sd.text2img").init_pipeline(components_manager=manager)
    pipe.update_components(**{**components, "scheduler": fresh_scheduler(components["scheduler"])})
    unet_bytes = sum(t.numel() * t.element_size() for t in [*pipe.unet.parameters(), *pipe.unet.buffers()])
    manager.enable_auto_cpu_offload("cpu", memory_budget=unet_bytes // 2)
    np.testing.assert_allclose(run_text2img(pipe), expected, atol=1e-6)
    info = manager.get_model_info(manager.get_ids("unet")[0])
    assert info["streamed_gb"] is not None and info["streamed_gb"] * 2**30 <= unet_bytes // 2
