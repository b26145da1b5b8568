"""SDXL-architecture timing on GPU: diffusers' classic pipeline vs its Modular Diffusers SDXL vs
`diffusers.stable_diffusion_xl.text2image` run through diffblocks (diffblocks-diffusers).

Run (on a CUDA machine with diffusers, diffblocks and diffblocks-diffusers installed):
    python benchmarks/sdxl_gpu.py [--steps 30] [--repeats 5] [--size 1024]
    python benchmarks/sdxl_gpu.py --smoke        # CPU, tiny configs: proves the script runs

Random fp16 weights built from SDXL's configs (written below; timing does not depend on the
weights), 1024x1024, 30 steps, classifier-free guidance 7.5, one seed. The three runners are
interleaved in one process (order rotated each repeat) after one warm-up each; the median of
``--repeats`` is reported. The last stdout line is one JSON object: seconds per image, ratios to
the classic pipeline, and the max abs differences between the outputs (images in [0, 1]).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("DIFFBLOCKS_PROGRESS", "0")

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent.parent / "plugins" / "diffblocks-diffusers" / "tests"))

# stabilityai/stable-diffusion-xl-base-1.0's architecture
SDXL_UNET: dict[str, Any] = dict(
    sample_size=128,
    block_out_channels=(320, 640, 1280),
    layers_per_block=2,
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    attention_head_dim=(5, 10, 20),
    transformer_layers_per_block=(1, 2, 10),
    cross_attention_dim=2048,
    addition_time_embed_dim=256,
    projection_class_embeddings_input_dim=2816,
)
SDXL_VAE: dict[str, Any] = dict(
    block_out_channels=(128, 256, 512, 512),
    layers_per_block=2,
    sample_size=1024,
    down_block_types=("DownEncoderBlock2D",) * 4,
    up_block_types=("UpDecoderBlock2D",) * 4,
    scaling_factor=0.13025,
    force_upcast=False,
)
SDXL_TEXT_ENCODERS: tuple[dict[str, Any], dict[str, Any]] = (
    # CLIP ViT-L/14 text model
    dict(
        hidden_size=768,
        intermediate_size=3072,
        num_attention_heads=12,
        num_hidden_layers=12,
        vocab_size=49408,
    ),
    # OpenCLIP ViT-bigG/14 text model with projection
    dict(
        hidden_size=1280,
        intermediate_size=5120,
        num_attention_heads=20,
        num_hidden_layers=32,
        vocab_size=49408,
        projection_dim=1280,
    ),
)


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(fn: Callable[[], torch.Tensor], out: list[float]) -> torch.Tensor:
    _sync()
    start = time.perf_counter()
    result = fn()
    _sync()
    out.append(time.perf_counter() - start)
    return result


def make_runners(
    comps: dict[str, Any], dev: str, kw: dict[str, Any], seed: int
) -> dict[str, Callable[[], Any]]:
    import diffusers
    from diffblocks import compose
    from diffusers_tiny import fresh_scheduler

    def fresh() -> dict[str, Any]:
        return {**comps, "scheduler": fresh_scheduler(comps["scheduler"])}

    classic = diffusers.StableDiffusionXLPipeline(**fresh())
    classic.set_progress_bar_config(disable=True)
    modular = diffusers.StableDiffusionXLAutoBlocks().get_workflow("text2image").init_pipeline()
    modular.update_components(**fresh())
    modular.set_progress_bar_config(disable=True)
    ours = compose("diffusers.stable_diffusion_xl.text2image").init_pipeline()
    ours.update_components(**fresh())

    def gen() -> torch.Generator:
        return torch.Generator(dev).manual_seed(seed)

    return {
        "classic": lambda: classic(guidance_scale=7.5, generator=gen(), **kw).images,
        "diffusers_modular": lambda: modular(generator=gen(), output="images", **kw),
        "diffblocks": lambda: ours(generator=gen(), output="images", **kw),
    }


def max_abs(a: torch.Tensor | None, b: torch.Tensor | None) -> float | None:
    """Max abs difference over the pixels finite in both (None if there are none): random fp16
    weights may overflow somewhere, and NaN would not be valid JSON."""
    if a is None or b is None:
        return None
    diff = (a.float() - b.float()).abs()
    finite = torch.isfinite(diff)
    return float(diff[finite].max()) if bool(finite.any()) else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="CPU, tiny configs, 2 steps, 1 repeat")
    args = parser.parse_args()

    from diffusers_tiny import sdxl_components

    folder = Path(tempfile.mkdtemp())
    if args.smoke:
        dev, dtype, size, steps, repeats = "cpu", torch.float32, 32, 2, 1
        comps = sdxl_components(folder)
    else:
        if not torch.cuda.is_available():
            print("no CUDA device: run with --smoke for a CPU check of this script", file=sys.stderr)
            return 2
        dev, dtype, size, steps, repeats = "cuda", torch.float16, args.size, args.steps, args.repeats
        comps = sdxl_components(
            folder, unet=SDXL_UNET, vae=SDXL_VAE, text_encoders=SDXL_TEXT_ENCODERS, dtype=dtype, device=dev
        )
    kw = dict(prompt="a photo of a cat", num_inference_steps=steps, height=size, width=size, output_type="pt")
    runners = make_runners(comps, dev, kw, args.seed)

    times: dict[str, list[float]] = {k: [] for k in runners}
    outputs: dict[str, torch.Tensor | None] = {}
    errors: dict[str, str] = {}
    with torch.no_grad():
        for name, fn in runners.items():  # warm-up (cuDNN/cuBLAS autotune, lazy inits)
            try:
                outputs[name] = fn()
            except Exception as exc:  # keep timing the others; report the failure
                errors[name] = f"{type(exc).__name__}: {exc}"
                outputs[name] = None
        names = [n for n in runners if n not in errors]
        for rep in range(repeats):
            for name in names[rep % len(names) :] + names[: rep % len(names)]:
                outputs[name] = timed(runners[name], times[name])
    med = {k: statistics.median(v) for k, v in times.items() if v}
    base = med.get("classic")
    result = {
        "device": torch.cuda.get_device_name() if dev == "cuda" else "cpu",
        "dtype": str(dtype).removeprefix("torch."),
        "size": size,
        "steps": steps,
        "repeats": repeats,
        "seconds": {k: round(v, 4) for k, v in med.items()},
        "ratio_to_classic": {k: round(v / base, 3) for k, v in med.items()} if base else {},
        "max_abs_diff": {
            "diffblocks_vs_classic": max_abs(outputs.get("diffblocks"), outputs.get("classic")),
            "diffblocks_vs_diffusers_modular": max_abs(
                outputs.get("diffblocks"), outputs.get("diffusers_modular")
            ),
            "diffusers_modular_vs_classic": max_abs(outputs.get("diffusers_modular"), outputs.get("classic")),
        },
        "finite": {k: bool(torch.isfinite(v).all()) for k, v in outputs.items() if v is not None},
        "errors": errors,
        "versions": {"torch": torch.__version__, "diffusers": __import__("diffusers").__version__},
    }
    print(json.dumps(result))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
