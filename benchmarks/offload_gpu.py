"""Auto CPU offload on GPU: diffblocks' ComponentsManager offload vs no offload vs diffusers'
``StableDiffusionPipeline.enable_model_cpu_offload()``, on the same components.

Run (on a CUDA machine with diffusers, accelerate, diffblocks and diffblocks-sd installed):
    python benchmarks/offload_gpu.py [--steps 30] [--repeats 5] [--budget-gb 0]

SD 1.5 architecture with random fp16 weights (built from configs, see sd_gpu.py), 512x512, one
image per call. Prints one JSON line: seconds per image (median) and peak GPU memory for

* ``no_offload``: every model on the GPU;
* ``diffblocks_offload``: ``enable_auto_cpu_offload("cuda", memory_budget=...)``; the default budget
  is the largest model's size, so one large model is on the GPU at a time (as in diffusers' model
  offload); ``--budget-gb`` sets another;
* ``diffblocks_offload_free_memory``: no budget, models leave only when the GPU is short of memory;
* ``diffblocks_offload_streamed``: a budget smaller than the UNet (``--stream-budget-gb``; default
  0.36 x the no-offload peak, leaving a fifth of 45% for activations): the UNet is streamed a group
  of modules at a time, prefetched on a side CUDA stream;
* ``diffusers_model_offload``: diffusers' pipeline with ``enable_model_cpu_offload()``;

and, for each diffblocks offload, the ratios the issue targets: peak memory / no_offload's
(target <= 0.45) and time / diffusers_model_offload's (target <= 1.1). A row that fails reports
its error and the others still run.

``--smoke`` runs the same code path on the CPU with tiny components (no timings worth reading;
diffusers' model offload is given ``device="cpu"``): it proves the script works.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).parent))
from sd_gpu import _sync, sd15_components, timed  # noqa: E402  (also puts the SD test helpers on the path)


def tiny_components() -> dict[str, Any]:
    from conftest import make_components, write_tokenizer_files  # the SD plugin's test components

    return make_components(write_tokenizer_files(Path(tempfile.mkdtemp())))


def unpin(components: dict[str, Any]) -> None:
    """Leave every model on the CPU in ordinary (pageable) memory, as a fresh load would be."""
    for value in components.values():
        if isinstance(value, torch.nn.Module):
            value.to("cpu")
            for tensor in [*value.parameters(), *value.buffers()]:
                if tensor.data.is_pinned():
                    tensor.data = tensor.data.clone()


def measure(fn: Callable[[], Any], repeats: int, cuda: bool) -> dict[str, float]:
    fn()  # warm-up: cuDNN/cuBLAS autotuning, first transfers
    times: list[float] = []
    peak = 0
    for _ in range(repeats):
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        timed(fn, times)
        if cuda:
            peak = max(peak, torch.cuda.max_memory_allocated())
    return {
        "seconds": round(statistics.median(times), 4),
        "min_seconds": round(min(times), 4),
        "peak_gib": round(peak / 2**30, 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--budget-gb", type=float, default=0.0, help="0: the largest model's size")
    parser.add_argument("--stream-budget-gb", type=float, default=0.0, help="0: 0.36 x no-offload peak")
    parser.add_argument("--smoke", action="store_true", help="tiny components on the CPU")
    args = parser.parse_args()

    import diffusers
    from diffblocks import ComponentsManager, get_block

    if args.smoke:
        device, dtype = "cpu", torch.float32
        comps = tiny_components()
        args.steps, args.repeats, args.size = 2, 1, 32
    else:
        device, dtype = "cuda", torch.float16
        comps = sd15_components("cpu", dtype)
    cuda = device == "cuda"
    torch.backends.cuda.matmul.allow_tf32 = True
    prompt, guidance, seed = "a photo of a cat", 7.5, 0
    models = {k: v for k, v in comps.items() if isinstance(v, torch.nn.Module)}
    sizes = {
        k: sum(t.numel() * t.element_size() for t in [*m.parameters(), *m.buffers()])
        for k, m in models.items()
    }
    budget = int(args.budget_gb * 2**30) if args.budget_gb else max(sizes.values())

    def fresh_scheduler() -> Any:
        return type(comps["scheduler"]).from_config(comps["scheduler"].config)

    def ours(pipe: Any) -> Callable[[], Any]:
        return lambda: pipe(
            prompt=prompt,
            num_inference_steps=args.steps,
            guidance_scale=guidance,
            height=args.size,
            width=args.size,
            generator=torch.Generator(device).manual_seed(seed),
            output_type="pt",
            show_progress=False,
            output="images",
        )

    results: dict[str, dict[str, Any]] = {}
    outputs: dict[str, torch.Tensor] = {}

    # 1. no offload: every model on the GPU
    plain = get_block("sd.text2img").init_pipeline()
    plain.update_components(**{**comps, "scheduler": fresh_scheduler()})
    plain.to(device)
    results["no_offload"] = measure(ours(plain), args.repeats, cuda)
    outputs["no_offload"] = ours(plain)()
    unpin(comps)
    del plain
    if cuda:
        torch.cuda.empty_cache()

    # 2.-4. diffblocks' auto offload: one large model at a time, free memory only, streamed UNet
    no_peak_bytes = results["no_offload"]["peak_gib"] * 2**30
    if args.stream_budget_gb:
        stream_budget = int(args.stream_budget_gb * 2**30)
    elif cuda:
        stream_budget = int(0.36 * no_peak_bytes)
    else:
        stream_budget = sizes["unet"] // 2
    for name, options in (
        ("diffblocks_offload", {"memory_budget": budget}),
        ("diffblocks_offload_free_memory", {}),
        ("diffblocks_offload_streamed", {"memory_budget": stream_budget}),
    ):
        manager = ComponentsManager()
        pipe = get_block("sd.text2img").init_pipeline(components_manager=manager)
        pipe.update_components(**{**comps, "scheduler": fresh_scheduler()})
        try:
            manager.enable_auto_cpu_offload(device, **options)
            results[name] = measure(ours(pipe), args.repeats, cuda)
            offload = manager.auto_offload
            assert offload is not None
            results[name].update(moves_in=offload.loads, moves_out=offload.evictions)
            if "memory_budget" in options:
                results[name]["budget_gib"] = round(options["memory_budget"] / 2**30, 3)
            streamed = manager.get_model_info(manager.get_ids("unet")[0])["streamed_gb"]
            results[name]["unet_streamed_gib"] = round(streamed, 3) if streamed else None
            outputs[name] = ours(pipe)()
        except Exception as exc:  # one failing row must not hide the others
            results[name] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
        manager.disable_auto_cpu_offload()
        unpin(comps)
        del pipe, manager
        if cuda:
            torch.cuda.empty_cache()

    # 4. diffusers' model offload on the same components
    theirs = diffusers.StableDiffusionPipeline(
        **{**comps, "scheduler": fresh_scheduler()},
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    theirs.set_progress_bar_config(disable=True)
    theirs.enable_model_cpu_offload(device=device)

    def run_diffusers() -> Any:
        return theirs(
            prompt=prompt,
            num_inference_steps=args.steps,
            guidance_scale=guidance,
            height=args.size,
            width=args.size,
            generator=torch.Generator(device).manual_seed(seed),
            output_type="pt",
        ).images

    results["diffusers_model_offload"] = measure(run_diffusers, args.repeats, cuda)
    outputs["diffusers_model_offload"] = run_diffusers()
    theirs.remove_all_hooks()
    _sync()

    ref = outputs["no_offload"].float().cpu()
    no_peak = results["no_offload"]["peak_gib"]
    theirs_s = results["diffusers_model_offload"]["seconds"]
    targets: dict[str, Any] = {}
    for name in ("diffblocks_offload", "diffblocks_offload_free_memory", "diffblocks_offload_streamed"):
        row = results[name]
        if "error" in row:
            continue
        peak_ratio = round(row["peak_gib"] / no_peak, 3) if no_peak else None
        time_ratio = round(row["seconds"] / theirs_s, 3)
        targets[name] = {
            "peak_ratio_vs_no_offload": peak_ratio,
            "time_ratio_vs_diffusers_model_offload": time_ratio,
            "peak<=0.45": peak_ratio is not None and peak_ratio <= 0.45,
            "time<=1.1": time_ratio <= 1.1,
        }
    report = {
        "device": torch.cuda.get_device_name() if cuda else "cpu (smoke: timings mean nothing)",
        "steps": args.steps,
        "size": args.size,
        "repeats": args.repeats,
        "budget_gib": round(budget / 2**30, 3),
        "model_gib": {k: round(v / 2**30, 3) for k, v in sizes.items()},
        **results,
        "max_abs_diff_vs_no_offload": {
            k: float((v.float().cpu() - ref).abs().max()) for k, v in outputs.items() if k != "no_offload"
        },
        "targets": targets,
    }
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
