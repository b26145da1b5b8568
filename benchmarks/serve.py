"""`diffblocks serve` throughput and latency under concurrent clients.

CPU (the shipped shapes model): the CLI server with dynamic batching against the same server with
``--max-batch 1``, 16 clients each sending requests back to back:
    python benchmarks/serve.py [--clients 16] [--requests 64] [--steps 20]
    python benchmarks/serve.py --smoke          # a few requests of 2 steps: checks the script runs

GPU (SD 1.5 architecture, random fp16 weights from `sd_gpu.py`, 512x512): a server built in
process from those components (``diffblocks.serve.create_app``) against diffusers'
StableDiffusionPipeline called with ``--clients`` prompts at a time, on the same weights:
    python benchmarks/serve.py --gpu [--clients 16] [--steps 30] [--repeats 4]

Prints one JSON line: images/s, p50/p95 latency (client side, from send to full answer), the
mean batch size the server formed (from /metrics), and the ratio of the two runners.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

PROMPTS = ["a red circle", "a green square", "a blue triangle", "a yellow circle"]


# -- clients ------------------------------------------------------------------------------------
class Tally:
    """Requests, time, client-side latencies and the server's batch counters, summed over rounds."""

    def __init__(self) -> None:
        self.requests, self.seconds, self.calls, self.rows = 0, 0.0, 0.0, 0.0
        self.latencies: list[float] = []

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies)
        return {
            "images_per_s": round(self.requests / self.seconds, 3),
            "seconds": round(self.seconds, 2),
            "p50_s": round(statistics.median(lat), 3),
            "p95_s": round(lat[min(len(lat) - 1, int(0.95 * len(lat)))], 3),
            "mean_batch": round(self.rows / self.calls, 2) if self.calls else None,
        }


async def _load(url: str, clients: int, total: int, body: dict[str, Any], tally: Tally) -> None:
    """``clients`` closed-loop clients share ``total`` requests (PNG answers), added to ``tally``."""
    counter = iter(range(total))
    failures: list[str] = []

    async def client(http: httpx.AsyncClient) -> None:
        for i in counter:
            start = time.perf_counter()
            reply = await http.post(
                f"{url}/v1/run",
                json={**body, "prompt": PROMPTS[i % len(PROMPTS)], "seed": i},
                headers={"Accept": "image/png"},
            )
            if reply.status_code != 200:
                failures.append(f"{reply.status_code}: {reply.text[:200]}")
            tally.latencies.append(time.perf_counter() - start)

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=3600, limits=limits) as http:
        before = _batches(await http.get(f"{url}/metrics"))
        start = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        tally.seconds += time.perf_counter() - start
        after = _batches(await http.get(f"{url}/metrics"))
    if failures:
        raise RuntimeError(f"{len(failures)} request(s) failed, e.g. {failures[0]}")
    tally.requests += total
    tally.calls += after[0] - before[0]
    tally.rows += after[1] - before[1]


def _batches(reply: httpx.Response) -> tuple[float, float]:
    found = dict(re.findall(r"^diffblocks_batch_size_(count|sum) (\S+)$", reply.text, re.MULTILINE))
    return float(found.get("count", 0)), float(found.get("sum", 0))


def measure(url: str, clients: int, total: int, body: dict[str, Any], tally: Tally | None = None) -> Tally:
    tally = tally or Tally()
    asyncio.run(_load(url, clients, total, body, tally))
    return tally


# -- servers ------------------------------------------------------------------------------------
def cli_server(*args: str, threads: int | None = None) -> tuple[subprocess.Popen[str], str]:
    """`diffblocks serve ARGS` on a free loopback port, once healthy."""
    env = {**os.environ, "DIFFBLOCKS_PROGRESS": "0"}
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)  # torch's intra-op threads in the server
    proc = subprocess.Popen(
        [sys.executable, "-m", "diffblocks.cli", "serve", *args, "--port", "0", "--log-level", "warning"],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stderr is not None
    match = re.search(r"listening on (http://\S+)", proc.stderr.readline())
    if match is None:
        proc.kill()
        raise RuntimeError(f"the server did not start: {proc.stderr.read()[-2000:]}")
    _wait_healthy(match.group(1))
    return proc, match.group(1)


def thread_server(app: Any) -> tuple[Any, str]:
    """uvicorn in a thread of this process (for pipelines built here); stop with .should_exit."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    _wait_healthy(url)
    return server, url


def _wait_healthy(url: str) -> None:
    deadline = time.monotonic() + 600
    while True:
        try:
            if httpx.get(f"{url}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not become healthy")
        time.sleep(0.1)


# -- modes --------------------------------------------------------------------------------------
def cpu(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    body = {"num_inference_steps": args.steps}
    result: dict[str, Any] = {
        "mode": "cpu",
        "model": "shapes.text2img",
        "torch_threads": args.threads or torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "clients": args.clients,
        "requests": args.requests,
        "steps": args.steps,
    }
    # both servers run side by side and take turns, a round of requests each, so that a shared
    # machine's changing load falls on both alike
    servers = {
        name: cli_server(
            "shapes.text2img",
            "--max-batch",
            str(max_batch),
            "--max-wait-ms",
            str(args.max_wait_ms),
            threads=args.threads,
        )
        for name, max_batch in (("batched", args.clients), ("max_batch_1", 1))
    }
    tallies = {name: Tally() for name in servers}
    try:
        for _, url in servers.values():
            measure(url, min(4, args.clients), min(4, args.requests), body)  # warm-up
        rounds = max(1, args.requests // args.clients)
        for r in range(rounds):
            order = list(servers) if r % 2 == 0 else list(servers)[::-1]
            for name in order:
                measure(servers[name][1], args.clients, args.requests // rounds, body, tallies[name])
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(60)
    for name, tally in tallies.items():
        result[name] = tally.summary()
    result["speedup"] = round(result["batched"]["images_per_s"] / result["max_batch_1"]["images_per_s"], 2)
    return result


def gpu(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    sys.path.insert(0, str(Path(__file__).parent))
    import diffusers
    from diffblocks import get_block
    from diffblocks.serve import create_app
    from sd_gpu import sd15_components

    dev = args.device
    comps = sd15_components(dev, torch.float16 if dev == "cuda" else torch.float32)
    fresh = lambda: type(comps["scheduler"]).from_config(comps["scheduler"].config)  # noqa: E731
    size, n, g = args.size, args.clients, 7.5
    result: dict[str, Any] = {
        "mode": "gpu",
        "device": torch.cuda.get_device_name() if dev == "cuda" else dev,
        "size": size,
        "steps": args.steps,
        "clients": n,
    }

    # diffusers' own pipeline, n prompts per call, on the same modules (its own scheduler)
    theirs: Any = diffusers.StableDiffusionPipeline(
        **{**comps, "scheduler": fresh()},
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    theirs.set_progress_bar_config(disable=True)

    def diffusers_call() -> float:
        gens = [torch.Generator(dev).manual_seed(i) for i in range(n)]
        if dev == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        theirs(
            [PROMPTS[i % len(PROMPTS)] for i in range(n)],
            height=size,
            width=size,
            num_inference_steps=args.steps,
            guidance_scale=g,
            generator=gens,
        )
        if dev == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    diffusers_call()  # warm-up: cuDNN/cuBLAS autotune
    calls = [diffusers_call() for _ in range(args.repeats)]
    result["diffusers"] = {
        "images_per_s": round(n / statistics.median(calls), 3),
        "seconds_per_call": round(statistics.median(calls), 3),
        "batch": n,
    }

    # the server: one pipeline call per batch of up to n requests; PNGs at compress level 1
    # (random weights make noise images, which zlib's default level spends long on)
    pipe = get_block("sd.text2img").init_pipeline()
    pipe.update_components(**{**comps, "scheduler": fresh()})
    app = create_app(pipe, max_batch=n, max_wait_ms=args.max_wait_ms, device=dev, png_compress_level=1)
    server, url = thread_server(app)
    try:
        body = {"num_inference_steps": args.steps, "guidance_scale": g, "height": size, "width": size}
        measure(url, n, n, body)  # warm-up
        result["serve"] = measure(url, n, n * args.repeats, body).summary()
    finally:
        server.should_exit = True
    result["ratio_serve_to_diffusers"] = round(
        result["serve"]["images_per_s"] / result["diffusers"]["images_per_s"], 3
    )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gpu", action="store_true", help="SD 1.5 architecture on CUDA vs diffusers")
    parser.add_argument("--smoke", action="store_true", help="a tiny run that checks the script works")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=64, help="CPU: requests per server")
    parser.add_argument("--steps", type=int, help="default: 20 on CPU, 30 on GPU")
    parser.add_argument("--repeats", type=int, default=4, help="GPU: full batches per runner")
    parser.add_argument("--size", type=int, default=512, help="GPU: image side in pixels")
    parser.add_argument(
        "--max-wait-ms",
        type=float,
        default=100.0,
        help="the server's batching wait (a full batch goes at once)",
    )
    parser.add_argument(
        "--threads", type=int, help="CPU: torch threads of the server (on a busy machine, 1 avoids thrashing)"
    )
    parser.add_argument("--device", default="cuda", help="GPU mode's device (cpu: a slow check of the code)")
    args = parser.parse_args()
    if args.smoke:
        args.clients, args.requests, args.repeats = min(args.clients, 4), min(args.requests, 8), 1
        args.steps = args.steps or 2
        if args.gpu:
            args.size = min(args.size, 64)
    args.steps = args.steps or (30 if args.gpu else 20)
    result = gpu(args) if args.gpu else cpu(args)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
