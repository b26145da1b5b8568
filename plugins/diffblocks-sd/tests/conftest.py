"""Tiny random-weight SD components and an offline CLIP tokenizer, shared by the SD tests."""

from __future__ import annotations

import json

import pytest
import torch


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible byte -> printable-character table."""
    bs = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory):
    return write_tokenizer_files(tmp_path_factory.mktemp("clip_tokenizer"))


def write_tokenizer_files(folder):
    """vocab.json + merges.txt for a character-level CLIP BPE tokenizer (written, not downloaded)."""
    chars = list(bytes_to_unicode().values())
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in chars:
        vocab.setdefault(c, len(vocab))
    for c in chars:
        vocab.setdefault(c + "</w>", len(vocab))
    merges = ["#version: 0.2", "a t</w>", "c a", "ca t</w>"]
    for token in ("at</w>", "ca", "cat</w>"):
        vocab[token] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("\n".join(merges) + "\n")
    return folder


def make_tokenizer(folder):
    from transformers import CLIPTokenizer

    return CLIPTokenizer(
        vocab_file=str(folder / "vocab.json"), merges_file=str(folder / "merges.txt"), model_max_length=77
    )


def make_components(tokenizer_dir, unet_in_channels: int = 4, scheduler_cls: str = "DDIMScheduler"):
    import diffusers
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    unet = diffusers.UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=16,
        in_channels=unet_in_channels,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
    )
    torch.manual_seed(0)
    vae = diffusers.AutoencoderKL(
        block_out_channels=[32, 64],
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        down_block_types=["DownEncoderBlock2D"] * 2,
        up_block_types=["UpDecoderBlock2D"] * 2,
    )
    torch.manual_seed(0)
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            bos_token_id=0,
            eos_token_id=1,
            hidden_size=32,
            intermediate_size=37,
            layer_norm_eps=1e-05,
            num_attention_heads=4,
            num_hidden_layers=5,
            pad_token_id=1,
            vocab_size=1000,
        )
    )
    # the Stable Diffusion v1 scheduler config (diffusers' pipelines rewrite older configs to this)
    sched_cls = getattr(diffusers, scheduler_cls)
    options = dict(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        num_train_timesteps=1000,
        steps_offset=1,
    )
    if scheduler_cls == "DDIMScheduler":
        options.update(clip_sample=False, set_alpha_to_one=False)
    scheduler = sched_cls(**options)
    return {
        "unet": unet.eval(),
        "vae": vae.eval(),
        "text_encoder": text_encoder.eval(),
        "tokenizer": make_tokenizer(tokenizer_dir),
        "scheduler": scheduler,
    }


def run_text2img(pipe, **kw):
    """The SD tests' standard tiny run: 2 steps, 32x32, seed 0, images as numpy."""
    return pipe(
        prompt="a cat",
        num_inference_steps=2,
        height=32,
        width=32,
        generator=torch.Generator().manual_seed(0),
        output_type="np",
        show_progress=False,
        output="images",
        **kw,
    )


def fresh_scheduler(scheduler):
    return type(scheduler).from_config(scheduler.config)


@pytest.fixture
def components(tokenizer_dir):
    return make_components(tokenizer_dir)


@pytest.fixture
def images():
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8))
    mask = np.zeros((32, 32), dtype=np.uint8)
    mask[8:24, 8:24] = 255
    return image, Image.fromarray(mask)
