"""diffblocks-sd matches diffusers' own pipelines (CPU, fp32, same tiny components and seeds)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import fresh_scheduler, make_components
from diffblocks import get_block

SCHEDULERS = ["DDIMScheduler", "EulerDiscreteScheduler"]
TOL = 1e-4
# diffusers pipelines side by side on the CPU: the second phase of the README's test command
pytestmark = pytest.mark.slow


def ours(name, comps, **kwargs):
    pipe = get_block(name).init_pipeline()
    pipe.update_components(**{**comps, "scheduler": fresh_scheduler(comps["scheduler"])})
    return pipe(
        **kwargs,
        generator=torch.Generator().manual_seed(0),
        output_type="np",
        show_progress=False,
        output="images",
    )


def theirs(cls_name, comps, **kwargs):
    import diffusers

    cls = getattr(diffusers, cls_name)
    pipe = cls(
        **{**comps, "scheduler": fresh_scheduler(comps["scheduler"])},
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe(**kwargs, generator=torch.Generator().manual_seed(0), output_type="np").images


def assert_close(a, b):
    assert a.shape == b.shape
    diff = float(np.abs(np.asarray(a) - np.asarray(b)).max())
    assert diff < TOL, f"max abs difference {diff}"
    assert float(np.abs(a).max()) > 0  # not an all-zero image on both sides


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_text2img_matches_stable_diffusion_pipeline(tokenizer_dir, scheduler):
    comps = make_components(tokenizer_dir, scheduler_cls=scheduler)
    kw = dict(prompt="a cat", num_inference_steps=3, guidance_scale=6.0, height=32, width=32)
    assert_close(ours("sd.text2img", comps, **kw), theirs("StableDiffusionPipeline", comps, **kw))


@pytest.mark.parametrize(
    "extra",
    [
        dict(negative_prompt="a dog", num_images_per_prompt=2),
        dict(guidance_rescale=0.7),
        dict(guidance_scale=1.0),
        dict(prompt=["a cat", "cat cat"], eta=0.5),
    ],
)
def test_text2img_options_match(tokenizer_dir, extra):
    comps = make_components(tokenizer_dir)
    kw = {**dict(prompt="a cat", num_inference_steps=2, guidance_scale=5.0, height=32, width=32), **extra}
    assert_close(ours("sd.text2img", comps, **kw), theirs("StableDiffusionPipeline", comps, **kw))


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_img2img_matches(tokenizer_dir, scheduler, images):
    comps = make_components(tokenizer_dir, scheduler_cls=scheduler)
    kw = dict(prompt="a cat", image=images[0], strength=0.75, num_inference_steps=4, guidance_scale=6.0)
    assert_close(ours("sd.img2img", comps, **kw), theirs("StableDiffusionImg2ImgPipeline", comps, **kw))


@pytest.mark.parametrize("scheduler", SCHEDULERS)
@pytest.mark.parametrize("channels", [4, 9])
def test_inpaint_matches(tokenizer_dir, scheduler, channels, images):
    comps = make_components(tokenizer_dir, unet_in_channels=channels, scheduler_cls=scheduler)
    kw = dict(
        prompt="a cat",
        image=images[0],
        mask_image=images[1],
        num_inference_steps=3,
        guidance_scale=6.0,
        height=32,
        width=32,
    )
    assert_close(ours("sd.inpaint", comps, **kw), theirs("StableDiffusionInpaintPipeline", comps, **kw))


def test_inpaint_with_strength_matches(tokenizer_dir, images):
    comps = make_components(tokenizer_dir)
    kw = dict(
        prompt="a cat",
        image=images[0],
        mask_image=images[1],
        strength=0.6,
        num_inference_steps=4,
        height=32,
        width=32,
    )
    assert_close(ours("sd.inpaint", comps, **kw), theirs("StableDiffusionInpaintPipeline", comps, **kw))


def test_auto_picks_the_workflow_by_inputs(tokenizer_dir, images):
    comps = make_components(tokenizer_dir)
    base = dict(prompt="a cat", num_inference_steps=2, height=32, width=32)
    assert_close(ours("sd.auto", comps, **base), ours("sd.text2img", comps, **base))
    assert_close(
        ours("sd.auto", comps, **base, image=images[0]), ours("sd.img2img", comps, **base, image=images[0])
    )
    both = dict(**base, image=images[0], mask_image=images[1])
    assert_close(ours("sd.auto", comps, **both), ours("sd.inpaint", comps, **both))
    auto = get_block("sd.auto")
    assert list(auto.get_execution_blocks("image").sub_blocks)[3] == "vae_encoder"


def test_clip_skip_uses_the_earlier_hidden_state_and_final_norm(components):
    from conftest import make_tokenizer  # noqa: F401

    pipe = get_block("sd.text_encoder").init_pipeline()
    pipe.update_components(text_encoder=components["text_encoder"], tokenizer=components["tokenizer"])
    got = pipe(prompt="a cat", clip_skip=2, guidance_scale=1.0, output="prompt_embeds")
    encoder, tok = components["text_encoder"], components["tokenizer"]
    ids = tok("a cat", padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
    with torch.no_grad():
        hidden = encoder(ids, output_hidden_states=True).hidden_states[-3]
        want = encoder.final_layer_norm(hidden)
    assert torch.allclose(got, want)
    assert not torch.allclose(got, pipe(prompt="a cat", guidance_scale=1.0, output="prompt_embeds"))
