"""Throughput of ``diffblocks batch`` against one pipeline call per row (and, on GPU, diffusers).

CPU (default): the shipped shapes model, 64 rows, 20 steps. ``diffblocks.batch.run`` at
``--batch-size 16`` against a loop making one pipeline call per row, both writing every image as
a PNG; the pipeline is built before either clock starts. Prints one JSON line with rows/s and
their ratio (target >= 3x), and the largest pixel difference between the two runs' images.

    python benchmarks/batch.py            # 64 rows
    python benchmarks/batch.py --smoke    # 4 rows, 2 steps: checks the script runs

GPU (``--gpu``): Stable Diffusion 1.5 architecture with random fp16 weights (built by
``benchmarks/sd_gpu.py``, written once to a temporary folder in diffusers layout and named by a
spec file, so ``diffblocks batch`` loads them as a user's run would), 512x512, 30 steps, 64
prompts. ``diffblocks batch --batch-size 16`` against diffusers' ``StableDiffusionPipeline`` over
the same weights called with 16 prompts at a time and with one prompt at a time, all with
per-image generators of the same seeds (so the images are compared too). Prints images/s and
ratios as one JSON line (target: diffblocks >= 0.95x diffusers at 16). The diffusers runs are
timed with and without saving PNGs (diffblocks batch always writes them, on a writer thread).
With ``--ray-gpus N`` (N >= 2, Ray installed) it also times the Ray Data path on 1 and N GPUs.

    python benchmarks/batch.py --gpu
    python benchmarks/batch.py --gpu --tiny --device cpu --rows 4 --steps 2   # the GPU path, tiny, on CPU
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

import numpy as np
import torch

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))  # sd_gpu, the SD benchmark's component builder
COLOURS, SHAPES = ["red", "green", "blue", "yellow"], ["circle", "square", "triangle"]


def prompts(n: int) -> list[str]:
    every = [f"a {c} {s}" for c in COLOURS for s in SHAPES]
    return [every[i % len(every)] for i in range(n)]


def max_diff(a: Any, b: Any) -> int:
    return int(np.abs(np.asarray(a, dtype=np.int16) - np.asarray(b, dtype=np.int16)).max())


def load_png(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


# -- CPU: shapes ---------------------------------------------------------------------------
def cpu(args: argparse.Namespace) -> dict[str, Any]:
    from diffblocks._front._png import generation_record, save_png
    from diffblocks._front._rows import load_blocks, make_pipeline
    from diffblocks.batch import run

    rows = [{"prompt": p} for p in prompts(args.rows)]
    shared = {"num_inference_steps": args.steps}
    work = Path(tempfile.mkdtemp(prefix="diffblocks-batch-bench-"))
    blocks, source = load_blocks("shapes.text2img")
    pipe = make_pipeline(blocks)

    def one_call_per_row(out: Path) -> float:
        out.mkdir()
        start = time.perf_counter()
        for i, row in enumerate(rows):
            inputs = {**row, **shared}
            generator = torch.Generator("cpu").manual_seed(i)
            (image,) = pipe(**inputs, generator=generator, show_progress=False, output="images")
            save_png(image, out / f"{i:05d}.png", generation_record(inputs=inputs, seed=i, **source))
        return time.perf_counter() - start

    def batched(out: Path) -> float:
        summary = run("shapes.text2img", rows, out, batch_size=args.batch_size, shared=shared, progress=False)
        assert summary.ok == len(rows), summary.text()
        return summary.seconds - summary.load_seconds  # the pipeline build is outside both clocks

    if not args.smoke:
        # warm-up: oneDNN prepares kernels per tensor shape on first use, for either way of running
        run(
            "shapes.text2img",
            rows[: args.batch_size],
            work / "warm",
            batch_size=args.batch_size,
            shared=shared,
        )
        pipe(prompt="a red circle", **shared, show_progress=False)
    single_s, batch_s = [], []
    for rep in range(args.repeats):
        pair = [(single_s, one_call_per_row, "single"), (batch_s, batched, "batch")]
        for sink, fn, name in pair if rep % 2 == 0 else pair[::-1]:
            sink.append(fn(work / f"{name}{rep}"))
    diffs = [
        max_diff(load_png(work / f"single0/{i:05d}.png"), load_png(work / f"batch0/images/{i:05d}.png"))
        for i in range(len(rows))
    ]
    single, batch = statistics.median(single_s), statistics.median(batch_s)
    return {
        "mode": "cpu",
        "model": "shapes.text2img",
        "rows": len(rows),
        "steps": args.steps,
        "batch_size": args.batch_size,
        "torch_threads": torch.get_num_threads(),
        "one_call_per_row_rows_per_s": round(len(rows) / single, 3),
        "batch_rows_per_s": round(len(rows) / batch, 3),
        "ratio": round(single / batch, 3),
        # batched kernels round differently; over many steps a few undecided pixels can drift
        "max_pixel_diff": max(diffs),
        "images_over_2_of_255": sum(d > 2 for d in diffs),
        "repeats": args.repeats,
    }


# -- GPU: Stable Diffusion 1.5 architecture --------------------------------------------------
def sd_folder(comps: dict[str, Any], folder: Path, dtype: str) -> Path:
    """The components saved in diffusers layout, and a spec file that loads them."""
    for name in ("unet", "vae", "text_encoder", "tokenizer", "scheduler"):
        comps[name].save_pretrained(folder / name)
    spec = folder / "sd15-random.toml"
    tables = "".join(
        f'[components.{n}]\npath = "{folder.as_posix()}"\n'
        + (f'dtype = "{dtype}"\n' if n in ("unet", "vae", "text_encoder") else "")
        for n in ("unet", "vae", "text_encoder", "tokenizer", "scheduler")
    )
    spec.write_text(f'diffblocks_spec = 1\nworkflow = "sd.text2img"\n{tables}')
    return spec


def gpu(args: argparse.Namespace) -> dict[str, Any]:
    import diffusers
    from diffblocks.batch import run

    dev = args.device
    dtype = torch.float16 if dev == "cuda" else torch.float32
    if dev == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
    if args.tiny:
        import sd_gpu  # noqa: F401 - puts the SD tests' conftest on the path
        from conftest import make_components

        tok = Path(tempfile.mkdtemp())
        from conftest import write_tokenizer_files

        write_tokenizer_files(tok)
        comps = {
            k: v.to(dev, dtype) if hasattr(v, "parameters") else v for k, v in make_components(tok).items()
        }
    else:
        from sd_gpu import sd15_components

        comps = sd15_components(dev, dtype)
    work = Path(tempfile.mkdtemp(prefix="diffblocks-batch-sd-"))
    spec = sd_folder(comps, work / "model", str(dtype).removeprefix("torch."))
    texts = [f"a photo of a cat, number {i}" for i in range(args.rows)]
    shared = {
        "num_inference_steps": args.steps,
        "guidance_scale": 7.5,
        "height": args.size,
        "width": args.size,
    }
    rows = [{"prompt": t} for t in texts]
    theirs = diffusers.StableDiffusionPipeline(
        **{**comps, "scheduler": type(comps["scheduler"]).from_config(comps["scheduler"].config)},
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    theirs.set_progress_bar_config(disable=True)

    def sync() -> None:
        if dev == "cuda":
            torch.cuda.synchronize()

    def diffusers_run(per_call: int, out: Path | None) -> tuple[float, list[Any]]:
        if out is not None:
            out.mkdir()
        images: list[Any] = []
        sync()
        start = time.perf_counter()
        for first in range(0, len(texts), per_call):
            chunk = range(first, min(first + per_call, len(texts)))
            gens = [torch.Generator(dev).manual_seed(i) for i in chunk]
            got = theirs(
                prompt=[texts[i] for i in chunk],
                generator=gens if per_call > 1 else gens[0],
                num_inference_steps=args.steps,
                guidance_scale=7.5,
                height=args.size,
                width=args.size,
            ).images
            if out is not None:
                for i, image in zip(chunk, got):
                    image.save(out / f"{i:05d}.png")
            images += got
        sync()
        return time.perf_counter() - start, images

    def ours(out: Path, n: int | None = None) -> float:
        summary = run(
            str(spec), rows[:n], out, batch_size=args.batch_size, shared=shared, device=dev, progress=False
        )
        assert summary.ok == len(rows[:n]), summary.text()
        return summary.seconds - summary.load_seconds  # loading the weights is not generation

    # warm-up (cuDNN autotuning, allocator) at the batch shapes that are timed
    ours(work / "warm", args.batch_size)
    diffusers_run(args.batch_size, None)
    times: dict[str, list[float]] = {"diffblocks_batch": [], "diffusers_batch": [], "diffusers_batch_png": []}
    single: list[float] = []
    images: dict[str, list[Any]] = {}
    for rep in range(args.repeats):
        times["diffblocks_batch"].append(ours(work / f"ours{rep}"))
        t, images["diffusers_batch"] = diffusers_run(args.batch_size, None)
        times["diffusers_batch"].append(t)
        times["diffusers_batch_png"].append(diffusers_run(args.batch_size, work / f"theirs{rep}")[0])
    if not args.skip_single:
        t, images["diffusers_single"] = diffusers_run(1, None)
        single.append(t)
    n = len(texts)
    rate = {k: n / statistics.median(v) for k, v in times.items()}
    result: dict[str, Any] = {
        "mode": "gpu",
        "device": torch.cuda.get_device_name() if dev == "cuda" else dev,
        "model": "tiny SD (random)" if args.tiny else "SD 1.5 architecture, random fp16 weights",
        "size": args.size,
        "steps": args.steps,
        "prompts": n,
        "batch_size": args.batch_size,
        "images_per_s": {k: round(v, 3) for k, v in rate.items()},
        "ratio_diffblocks_to_diffusers_batch": round(rate["diffblocks_batch"] / rate["diffusers_batch"], 3),
        "ratio_diffblocks_to_diffusers_batch_png": round(
            rate["diffblocks_batch"] / rate["diffusers_batch_png"], 3
        ),
        "max_pixel_diff_vs_diffusers_batch": max(
            max_diff(load_png(work / f"ours0/images/{i:05d}.png"), images["diffusers_batch"][i])
            for i in range(n)
        ),
        "repeats": args.repeats,
    }
    if single:
        rate_single = n / single[0]
        result["images_per_s"]["diffusers_single"] = round(rate_single, 3)
        result["ratio_diffblocks_to_diffusers_single"] = round(rate["diffblocks_batch"] / rate_single, 3)
    if args.ray_gpus:
        result["ray"] = ray_scaling(spec, shared, args, work)
    return result


def ray_scaling(spec: Path, shared: dict[str, Any], args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """The Ray Data path (``map_images``, which ``diffblocks batch --ray`` runs) on 1 GPU and on
    ``--ray-gpus`` GPUs of a local cluster: images/s end to end (worker start-up and weight
    loading included) and steady (after each worker's first batch)."""
    import ray
    from diffblocks.batch import map_images

    ray.init(num_gpus=args.ray_gpus, include_dashboard=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    texts = [f"a photo of a cat, number {i}" for i in range(args.ray_rows)]
    items = [{"id": f"{i:05d}", "seed": i, "prompt": t} for i, t in enumerate(texts)]
    rates: dict[int, dict[str, float]] = {}
    for workers in (1, args.ray_gpus):
        ds = ray.data.from_items(items, override_num_blocks=-(-len(items) // args.batch_size))
        mapped = map_images(
            ds,
            str(spec),
            work / f"ray{workers}",
            batch_size=args.batch_size,
            workers=workers,
            num_gpus=1,
            shared=shared,
        )
        start, stamps = time.perf_counter(), []
        for record in mapped.iter_rows():
            assert record["status"] == "ok", record["error"]
            stamps.append(time.perf_counter())
        first = workers * args.batch_size  # each worker's first batch carries its start-up
        rates[workers] = {
            "end_to_end": len(stamps) / (stamps[-1] - start),
            "steady": (len(stamps) - first) / (stamps[-1] - stamps[first - 1]),
        }
    ray.shutdown()
    n = args.ray_gpus
    return {
        "rows": len(items),
        "images_per_s": {f"{k}_gpu": {m: round(v, 3) for m, v in r.items()} for k, r in rates.items()},
        "scaling_steady": round(rates[n]["steady"] / rates[1]["steady"], 3),
        "scaling_end_to_end": round(rates[n]["end_to_end"] / rates[1]["end_to_end"], 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gpu", action="store_true", help="SD 1.5 architecture on CUDA against diffusers")
    parser.add_argument("--smoke", action="store_true", help="a tiny size: checks that the script runs")
    parser.add_argument("--rows", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, help="denoising steps (CPU 20, GPU 30)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument(
        "--device", default="cuda", help="--gpu: cpu only with --tiny, to check the code path"
    )
    parser.add_argument("--size", type=int, help="--gpu: image size in pixels (512; --tiny: 128)")
    parser.add_argument("--tiny", action="store_true", help="--gpu: the SD tests' tiny random model")
    parser.add_argument("--skip-single", action="store_true", help="--gpu: skip one-prompt-at-a-time")
    parser.add_argument("--ray-gpus", type=int, default=0, help="--gpu: also time --ray on 1 and N GPUs")
    parser.add_argument(
        "--ray-rows", type=int, default=256, help="--gpu --ray-gpus: prompts for the Ray runs"
    )
    args = parser.parse_args()
    if args.smoke:
        args.rows, args.batch_size, args.steps = 4, 2, args.steps or 2
    args.steps = args.steps or (30 if args.gpu else 20)
    args.size = args.size or (128 if args.tiny else 512)
    print(json.dumps(gpu(args) if args.gpu else cpu(args)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
