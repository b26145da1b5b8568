"""Tiny random components built from configs (no hub), shared by the tests and the benchmark's
``--smoke`` mode. Tokenizers are written locally: a character-level CLIP BPE and word-level fast
tokenizers for T5/UMT5/Qwen-style encoders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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


def write_clip_tokenizer(folder: Path) -> Path:
    """vocab.json + merges.txt of a character-level CLIP BPE tokenizer (written, not downloaded)."""
    folder.mkdir(parents=True, exist_ok=True)
    chars = list(bytes_to_unicode().values())
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in chars:
        vocab.setdefault(c, len(vocab))
    for c in chars:
        vocab.setdefault(c + "</w>", len(vocab))
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return folder


def clip_tokenizer(folder: Path, max_length: int = 77) -> Any:
    from transformers import CLIPTokenizer

    write_clip_tokenizer(folder)
    return CLIPTokenizer(
        vocab_file=str(folder / "vocab.json"),
        merges_file=str(folder / "merges.txt"),
        model_max_length=max_length,
    )


def word_tokenizer(max_length: int = 64, vocab_size: int = 100) -> Any:
    """A word-level fast tokenizer (ids < vocab_size), standing in for T5/UMT5/Qwen tokenizers."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["<pad>", "</s>", "<unk>"] + [f"w{i}" for i in range(vocab_size - 3)]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        model_max_length=max_length,
    )


# -- SDXL ------------------------------------------------------------------------------------
def sdxl_components(
    folder: Path,
    *,
    unet: dict[str, Any] | None = None,
    vae: dict[str, Any] | None = None,
    text_encoders: tuple[dict[str, Any], dict[str, Any]] | None = None,
    dtype: torch.dtype = torch.float32,
    device: str = "cpu",
) -> dict[str, Any]:
    """SDXL-architecture UNet, VAE, two CLIP text encoders, tokenizers and Euler scheduler.

    The configs default to the smallest that run; the GPU benchmark passes SDXL's real sizes.
    """
    import diffusers
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    unet = unet or dict(
        sample_size=16,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4),
        transformer_layers_per_block=(1, 1),
        cross_attention_dim=64,
        addition_time_embed_dim=8,
        projection_class_embeddings_input_dim=80,
    )
    vae = vae or dict(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=32,
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
    )
    small = dict(
        hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2, vocab_size=1000
    )
    te1, te2 = text_encoders or (small, {**small, "projection_dim": 32})
    common = dict(
        bos_token_id=0, eos_token_id=1, pad_token_id=1, max_position_embeddings=77, hidden_act="gelu"
    )
    with torch.device(device):
        torch.manual_seed(0)
        unet_model = diffusers.UNet2DConditionModel(
            in_channels=4, out_channels=4, use_linear_projection=True, addition_embed_type="text_time", **unet
        )
        torch.manual_seed(0)
        vae_model = diffusers.AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, **vae)
        torch.manual_seed(0)
        text_encoder = CLIPTextModel(CLIPTextConfig(**common, **te1))
        torch.manual_seed(0)
        text_encoder_2 = CLIPTextModelWithProjection(CLIPTextConfig(**common, **te2))
    models = {
        "unet": unet_model,
        "vae": vae_model,
        "text_encoder": text_encoder,
        "text_encoder_2": text_encoder_2,
    }
    models = {k: m.to(dtype).eval() for k, m in models.items()}
    tokenizer = clip_tokenizer(folder / "tokenizer")
    return {
        **models,
        "tokenizer": tokenizer,
        "tokenizer_2": tokenizer,
        "scheduler": diffusers.EulerDiscreteScheduler(
            beta_start=0.00085,
            beta_end=0.012,
            beta_schedule="scaled_linear",
            steps_offset=1,
            timestep_spacing="leading",
        ),
    }


def fresh_scheduler(scheduler: Any) -> Any:
    return type(scheduler).from_config(scheduler.config)


def image(size: int = 32, seed: int = 0) -> Any:
    """A deterministic RGB PIL image."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8))


def mask(size: int = 32) -> Any:
    from PIL import Image

    m = Image.new("L", (size, size), 0)
    m.paste(255, (size // 4, size // 4, 3 * size // 4, 3 * size // 4))
    return m


# -- Flux, Qwen-Image, Wan (the smallest configs that run) ----------------------------------
def _seeded(fn: Any) -> Any:
    torch.manual_seed(0)
    return fn().eval()


def flux_components(folder: Path) -> dict[str, Any]:
    import diffusers
    from transformers import CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel

    clip = CLIPTextConfig(
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
        hidden_size=32,
        intermediate_size=37,
        num_attention_heads=4,
        num_hidden_layers=2,
        vocab_size=1000,
        max_position_embeddings=77,
    )
    t5 = T5Config(
        d_model=32, d_ff=37, d_kv=8, num_heads=4, num_layers=2, vocab_size=100, decoder_start_token_id=0
    )
    return {
        "transformer": _seeded(
            lambda: diffusers.FluxTransformer2DModel(
                patch_size=1,
                in_channels=4,
                num_layers=1,
                num_single_layers=1,
                attention_head_dim=16,
                num_attention_heads=2,
                joint_attention_dim=32,
                pooled_projection_dim=32,
                axes_dims_rope=[4, 4, 8],
            )
        ),
        "vae": _seeded(
            lambda: diffusers.AutoencoderKL(
                sample_size=32,
                in_channels=3,
                out_channels=3,
                block_out_channels=(4,),
                layers_per_block=1,
                latent_channels=1,
                norm_num_groups=1,
                use_quant_conv=False,
                use_post_quant_conv=False,
                shift_factor=0.0609,
                scaling_factor=1.5035,
            )
        ),
        "text_encoder": _seeded(lambda: CLIPTextModel(clip)),
        "text_encoder_2": _seeded(lambda: T5EncoderModel(t5)),
        "tokenizer": clip_tokenizer(folder / "clip"),
        "tokenizer_2": word_tokenizer(max_length=512),
        "scheduler": diffusers.FlowMatchEulerDiscreteScheduler(),
    }


def qwenimage_components(folder: Path) -> dict[str, Any]:
    import diffusers
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    config = Qwen2_5_VLConfig(
        text_config={
            "hidden_size": 16,
            "intermediate_size": 16,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 2,
            "vocab_size": 1000,
            "rope_theta": 1000000.0,
            "rope_scaling": {"mrope_section": [1, 1, 2], "rope_type": "default", "type": "default"},
        },
        vision_config={
            "depth": 2,
            "hidden_size": 16,
            "intermediate_size": 16,
            "num_heads": 2,
            "out_hidden_size": 16,
        },
        hidden_size=16,
        vocab_size=1000,
        vision_start_token_id=995,
        vision_end_token_id=996,
        vision_token_id=997,
        image_token_id=998,
        video_token_id=999,
    )
    return {
        "transformer": _seeded(
            lambda: diffusers.QwenImageTransformer2DModel(
                patch_size=2,
                in_channels=16,
                out_channels=4,
                num_layers=2,
                attention_head_dim=16,
                num_attention_heads=3,
                joint_attention_dim=16,
                guidance_embeds=False,
                axes_dims_rope=(8, 4, 4),
            )
        ),
        "vae": _seeded(
            lambda: diffusers.AutoencoderKLQwenImage(
                base_dim=24,
                z_dim=4,
                dim_mult=[1, 2, 4],
                num_res_blocks=1,
                temperal_downsample=[False, True],
                latents_mean=[0.0] * 4,
                latents_std=[1.0] * 4,
            )
        ),
        "text_encoder": _seeded(lambda: Qwen2_5_VLForConditionalGeneration(config)),
        "tokenizer": word_tokenizer(max_length=1024, vocab_size=990),
        "scheduler": diffusers.FlowMatchEulerDiscreteScheduler(),
    }


def wan_components(folder: Path) -> dict[str, Any]:
    import diffusers
    from transformers import UMT5Config, UMT5EncoderModel

    umt5 = UMT5Config(
        d_model=32, d_ff=37, d_kv=8, num_heads=4, num_layers=2, vocab_size=100, decoder_start_token_id=0
    )
    return {
        "transformer": _seeded(
            lambda: diffusers.WanTransformer3DModel(
                patch_size=(1, 2, 2),
                num_attention_heads=2,
                attention_head_dim=12,
                in_channels=16,
                out_channels=16,
                text_dim=32,
                freq_dim=256,
                ffn_dim=32,
                num_layers=2,
                cross_attn_norm=True,
                qk_norm="rms_norm_across_heads",
                rope_max_seq_len=32,
            )
        ),
        "vae": _seeded(
            lambda: diffusers.AutoencoderKLWan(
                base_dim=3,
                z_dim=16,
                dim_mult=[1, 1, 1, 1],
                num_res_blocks=1,
                temperal_downsample=[False, True, True],
            )
        ),
        "text_encoder": _seeded(lambda: UMT5EncoderModel(umt5)),
        "tokenizer": word_tokenizer(max_length=512),
        "scheduler": diffusers.UniPCMultistepScheduler(
            flow_shift=3.0, prediction_type="flow_prediction", use_flow_sigmas=True
        ),
    }


def with_fresh_scheduler(components: dict[str, Any]) -> dict[str, Any]:
    """The components with a new scheduler of the same config (schedulers keep state)."""
    return {**components, "scheduler": fresh_scheduler(components["scheduler"])}


def max_diff(a: Any, b: Any) -> float:
    return float((a.float() - b.float()).abs().max())
