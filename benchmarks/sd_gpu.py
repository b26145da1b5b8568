"""Stable Diffusion 1.5-architecture timing on GPU: diffblocks vs diffusers vs a bare loop.

Run (on a CUDA machine with diffusers, diffblocks and diffblocks-sd installed):
    python benchmarks/sd_gpu.py [--steps 30] [--repeats 5] [--compile]

Random weights (timing does not depend on them), built on the GPU in fp16; 512x512, guidance 7.5.
The three runners are interleaved in one process; their outputs are compared. Prints seconds per
image, ratios to the bare loop and peak GPU memory. With --compile, also times diffblocks'
`pipe.compile()` fast path against diffusers' eager pipeline.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).parent.parent / "plugins" / "diffblocks-sd" / "tests"))


def sd15_components(device: str, dtype: torch.dtype) -> dict:
    import diffusers
    from conftest import make_tokenizer, write_tokenizer_files  # the offline tokenizer of the SD tests
    from transformers import CLIPTextConfig, CLIPTextModel

    folder = Path(tempfile.mkdtemp())
    write_tokenizer_files(folder)
    with torch.device(device):
        unet = (
            diffusers.UNet2DConditionModel(
                sample_size=64,
                in_channels=4,
                out_channels=4,
                layers_per_block=2,
                block_out_channels=(320, 640, 1280, 1280),
                cross_attention_dim=768,
                attention_head_dim=8,
                down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
                up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
            )
            .to(dtype)
            .eval()
        )
        vae = (
            diffusers.AutoencoderKL(
                in_channels=3,
                out_channels=3,
                latent_channels=4,
                layers_per_block=2,
                sample_size=512,
                block_out_channels=(128, 256, 512, 512),
                down_block_types=("DownEncoderBlock2D",) * 4,
                up_block_types=("UpDecoderBlock2D",) * 4,
            )
            .to(dtype)
            .eval()
        )
        text_encoder = (
            CLIPTextModel(
                CLIPTextConfig(
                    hidden_size=768,
                    intermediate_size=3072,
                    num_attention_heads=12,
                    num_hidden_layers=12,
                    max_position_embeddings=77,
                    vocab_size=49408,
                    bos_token_id=0,
                    eos_token_id=1,
                    pad_token_id=1,
                )
            )
            .to(dtype)
            .eval()
        )
    scheduler = diffusers.DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    return {
        "unet": unet,
        "vae": vae,
        "text_encoder": text_encoder,
        "tokenizer": make_tokenizer(folder),
        "scheduler": scheduler,
    }


@torch.no_grad()
def bare_loop(c: dict, prompt: str, steps: int, guidance: float, seed: int) -> torch.Tensor:
    """Hand-written text-to-image over the same components: the lower bound."""
    from diffusers.utils.torch_utils import randn_tensor

    tok, enc, unet, vae, sched = c["tokenizer"], c["text_encoder"], c["unet"], c["vae"], c["scheduler"]
    ids = tok(
        [prompt, ""], padding="max_length", max_length=77, truncation=True, return_tensors="pt"
    ).input_ids.to(unet.device)
    emb = enc(ids)[0]
    context = torch.cat([emb[1:], emb[:1]])
    sched.set_timesteps(steps, device=unet.device)
    gen = torch.Generator(unet.device).manual_seed(seed)
    latents = (
        randn_tensor((1, 4, 64, 64), generator=gen, device=unet.device, dtype=unet.dtype)
        * sched.init_noise_sigma
    )
    for t in sched.timesteps:
        x = sched.scale_model_input(torch.cat([latents] * 2), t)
        uncond, text = unet(x, t, encoder_hidden_states=context, return_dict=False)[0].chunk(2)
        latents = sched.step(uncond + guidance * (text - uncond), t, latents, return_dict=False)[0]
    image = vae.decode(latents / vae.config.scaling_factor, return_dict=False)[0]
    return (image / 2 + 0.5).clamp(0, 1)


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(fn, repeats_out: list[float]) -> torch.Tensor:
    _sync()
    start = time.perf_counter()
    out = fn()
    _sync()
    repeats_out.append(time.perf_counter() - start)
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--compile-mode", default="max-autotune-no-cudagraphs")
    parser.add_argument("--device", default="cuda", help="cpu only for a smoke test of this script")
    args = parser.parse_args()

    import diffusers
    from diffblocks import get_block

    torch.backends.cuda.matmul.allow_tf32 = True
    prompt, g, seed = "a photo of a cat", 7.5, 0
    dev = args.device
    comps = sd15_components(dev, torch.float16 if dev == "cuda" else torch.float32)
    fresh = lambda: type(comps["scheduler"]).from_config(comps["scheduler"].config)  # noqa: E731
    ours = get_block("sd.text2img").init_pipeline()
    ours.update_components(**{**comps, "scheduler": fresh()})
    theirs = diffusers.StableDiffusionPipeline(
        **{**comps, "scheduler": fresh()},
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    theirs.set_progress_bar_config(disable=True)
    bare_comps = {**comps, "scheduler": fresh()}

    def run_diffusers(pipe: Any) -> torch.Tensor:
        gen = torch.Generator(dev).manual_seed(seed)
        return pipe(
            prompt=prompt, num_inference_steps=args.steps, guidance_scale=g, generator=gen, output_type="pt"
        ).images

    runners = {
        "diffblocks": lambda: ours(
            prompt=prompt,
            num_inference_steps=args.steps,
            guidance_scale=g,
            generator=torch.Generator(dev).manual_seed(seed),
            output_type="pt",
            show_progress=False,
            output="images",
        ),
        "diffusers": lambda: run_diffusers(theirs),
        "bare": lambda: bare_loop(bare_comps, prompt, args.steps, g, seed),
    }
    times: dict[str, list[float]] = {k: [] for k in runners}
    peaks: dict[str, int] = {}
    outputs: dict[str, torch.Tensor] = {}
    for name, fn in runners.items():  # warm-up (cuDNN/cuBLAS autotune)
        outputs[name] = fn()
    names = list(runners)
    for rep in range(args.repeats):
        # rotate the order so no runner always goes first (clock and allocator drift)
        for name in names[rep % len(names) :] + names[: rep % len(names)]:
            fn = runners[name]
            if dev == "cuda":
                torch.cuda.reset_peak_memory_stats()
            outputs[name] = timed(fn, times[name])
            peaks[name] = max(peaks.get(name, 0), torch.cuda.max_memory_allocated() if dev == "cuda" else 0)
    bare = statistics.median(times["bare"])
    result = {
        "device": torch.cuda.get_device_name() if dev == "cuda" else "cpu",
        "steps": args.steps,
        "repeats": args.repeats,
    }
    for name in runners:
        med = statistics.median(times[name])
        result[name] = {
            "seconds": round(med, 4),
            "min_seconds": round(min(times[name]), 4),
            "ratio_to_bare": round(med / bare, 4),
            "peak_gib": round(peaks[name] / 2**30, 3),
        }
    result["max_abs_diff_vs_bare"] = {
        n: float((outputs[n].float() - outputs["bare"].float()).abs().max())
        for n in ("diffblocks", "diffusers")
    }
    print(json.dumps(result, indent=2), flush=True)

    if args.compile:
        import copy

        # diffusers' eager baseline gets its own copies: compile() patches the UNet and VAE in place
        eager_comps = {
            **comps,
            "unet": copy.deepcopy(comps["unet"]),
            "vae": copy.deepcopy(comps["vae"]),
            "scheduler": fresh(),
        }
        eager_pipe = diffusers.StableDiffusionPipeline(
            **eager_comps, safety_checker=None, feature_extractor=None, requires_safety_checker=False
        )
        eager_pipe.set_progress_bar_config(disable=True)
        runners["diffusers"] = lambda: run_diffusers(eager_pipe)
        runners["diffusers"]()
        ours.compile(mode=args.compile_mode)
        t0 = time.perf_counter()
        runners["diffblocks"]()
        runners["diffblocks"]()
        compile_s = time.perf_counter() - t0
        fast: list[float] = []
        eager: list[float] = []
        for rep in range(args.repeats):
            pair = [(runners["diffblocks"], fast), (runners["diffusers"], eager)]
            for fn, sink in pair if rep % 2 == 0 else pair[::-1]:
                timed(fn, sink)
        out = runners["diffblocks"]()
        speedup = statistics.median(eager) / statistics.median(fast)
        print(
            json.dumps(
                {
                    "compiled": {
                        "mode": args.compile_mode,
                        "warmup_seconds": round(compile_s, 1),
                        "diffblocks_compiled_s": round(statistics.median(fast), 4),
                        "diffusers_eager_s": round(statistics.median(eager), 4),
                        "speedup_vs_diffusers_eager": round(speedup, 3),
                        "max_abs_diff_vs_bare": float((out.float() - outputs["bare"].float()).abs().max()),
                    }
                },
                indent=2,
            ),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
