"""`diffblocks serve shapes.text2img`: a real server (the CLI, in a subprocess) on a free loopback
port, called with a real HTTP client. One server for the module; the last test stops it with
SIGTERM while a request is in flight."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import re
import signal
import subprocess
import sys
import time

import httpx
import numpy as np
import pytest
from diffblocks._front._png import read_png_metadata
from diffblocks_shapes.quality import classify
from PIL import Image

STEPS = 6  # enough for a recognisable shape, short on a shared CPU
#: base URL -> the server process behind it
PROCESSES: dict[str, subprocess.Popen[str]] = {}


def start_server(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str]:
    """`diffblocks serve ARGS --port 0` in a subprocess; returns it and its base URL once healthy."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "diffblocks.cli", "serve", *args, "--port", "0", "--log-level", "warning"],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "DIFFBLOCKS_PROGRESS": "0", **(env or {})},
    )
    assert proc.stderr is not None
    # progress notes ("still loading ...") may come first on a slow machine
    seen: list[str] = []
    match = None
    while match is None:
        line = proc.stderr.readline()
        if not line:
            proc.kill()
            raise AssertionError(f"no address printed: {''.join(seen)!r}{proc.stderr.read()}")
        seen.append(line)
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
    url = match.group(1)
    PROCESSES[url] = proc
    deadline = time.monotonic() + 120
    while httpx.get(f"{url}/healthz").status_code != 200:
        assert time.monotonic() < deadline and proc.poll() is None, "server did not become healthy"
        time.sleep(0.1)
    return proc, url


@pytest.fixture(scope="module")
def server():
    proc, url = start_server("shapes.text2img", "--max-batch", "8", "--max-wait-ms", "300")
    yield url
    if proc.poll() is None:
        proc.kill()
    proc.wait(30)


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def run(url: str, **body: object) -> httpx.Response:
    return httpx.post(f"{url}/v1/run", json=body, timeout=600)


def metric(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_healthz_schema_and_openapi(server):
    assert httpx.get(f"{server}/healthz").json() == {"status": "ok"}
    schema = httpx.get(f"{server}/v1/schema").json()
    props = schema["properties"]
    assert schema["required"] == ["prompt"] and schema["additionalProperties"] is False
    assert props["prompt"]["type"] == "string"  # "str | list[str]": one prompt per request
    assert props["num_inference_steps"] == {
        "type": "integer",
        "minimum": 1,  # the block's declared range (InputParam ge=1)
        "default": 20,
        "description": "denoising steps",
    }
    assert props["guidance_scale"]["type"] == "number" and props["seed"]["minimum"] == 0
    # the server sets these itself; tensors cannot travel as JSON
    assert not {"generator", "latents", "output_type", "show_progress"} & set(props)
    openapi = httpx.get(f"{server}/openapi.json").json()
    body = openapi["components"]["schemas"]["RunRequest"]
    assert set(body["properties"]) == set(props) and body["required"] == ["prompt"]


def test_run_json_and_png_carry_the_same_image_and_its_record(server):
    reply = run(server, prompt="a red circle", num_inference_steps=STEPS, seed=7)
    assert reply.status_code == 200, reply.text
    data = reply.json()
    assert data["seed"] == 7 and data["seconds"] > 0 and len(data["images"]) == 1
    png = base64.b64decode(data["images"][0])
    assert classify(pixels(png).astype(np.uint8))[:2] == ("red", "circle")
    record = read_png_metadata(io.BytesIO(png))
    assert record is not None
    assert record["block"] == "shapes.text2img" and record["seed"] == 7
    assert record["inputs"] == {"prompt": "a red circle", "num_inference_steps": STEPS}
    raw = httpx.post(
        f"{server}/v1/run",
        json={"prompt": "a red circle", "num_inference_steps": STEPS, "seed": 7},
        headers={"Accept": "image/png"},
        timeout=600,
    )
    assert raw.headers["content-type"] == "image/png" and raw.headers["x-seed"] == "7"
    assert np.array_equal(pixels(raw.content), pixels(png))
    unseeded = run(server, prompt="a blue square", num_inference_steps=2).json()
    assert isinstance(unseeded["seed"], int)  # the server picked one and says which


def test_invalid_inputs_are_422_naming_each_field(server):
    reply = run(server, promt="a red circle", num_inference_steps="8", guidance_scale=True)
    assert reply.status_code == 422
    problems = {p["field"]: p["message"] for p in reply.json()["detail"]}
    assert "did you mean 'prompt'?" in problems["promt"]
    assert "valid integer" in problems["num_inference_steps"] and "'8'" in problems["num_inference_steps"]
    assert "valid number" in problems["guidance_scale"]
    assert "'prompt' is missing" in problems["prompt"]
    reply = httpx.post(f"{server}/v1/run", content=b"{not json", headers={"Content-Type": "application/json"})
    assert reply.status_code == 422 and reply.json()["detail"][0]["field"] == "body"
    assert run(server, prompt="a red circle", seed=-1).json()["detail"][0]["field"] == "seed"
    # a declared range is the request model's range: refused before the batcher sees it
    reply = run(server, prompt="a red circle", num_inference_steps=0, guidance_scale=-1.0)
    assert reply.status_code == 422
    problems = {p["field"]: p["message"] for p in reply.json()["detail"]}
    assert "greater than or equal to 1" in problems["num_inference_steps"]
    assert "greater than or equal to 0" in problems["guidance_scale"]


@pytest.mark.slow
def test_concurrent_requests_batch_and_match_single_requests(server):
    prompts = ["a red circle", "a green square", "a blue triangle", "a yellow circle"] * 2
    bodies = [{"prompt": p, "num_inference_steps": STEPS, "seed": 100 + i} for i, p in enumerate(prompts)]
    bodies[5] = {"prompt": "a purple circle", "num_inference_steps": STEPS, "seed": 105}  # one bad row
    before = httpx.get(f"{server}/metrics").text

    async def all_at_once() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=600) as client:
            return await asyncio.gather(*(client.post(f"{server}/v1/run", json=b) for b in bodies))

    replies = asyncio.run(all_at_once())
    bad = replies[5]
    assert bad.status_code == 500 and bad.json()["block"] == "text_encoder"
    assert "purple" in bad.json()["error"]
    good = [(b, r) for i, (b, r) in enumerate(zip(bodies, replies)) if i != 5]
    assert all(r.status_code == 200 for _, r in good), [r.text for _, r in good]
    assert max(r.json()["batch_size"] for _, r in good) > 1
    after = httpx.get(f"{server}/metrics").text
    calls = metric(after, "diffblocks_batch_size_count") - metric(before, "diffblocks_batch_size_count")
    rows = metric(after, "diffblocks_batch_size_sum") - metric(before, "diffblocks_batch_size_sum")
    assert rows >= 8 and calls < rows  # fewer pipeline calls than requests: batching happened
    ok = metric(after, 'diffblocks_requests_total{status="200"}') - metric(
        before, 'diffblocks_requests_total{status="200"}'
    )
    assert ok == 7
    for body, reply in good:  # each batched image is the image the same request gets alone
        batched = pixels(base64.b64decode(reply.json()["images"][0]))
        alone = pixels(base64.b64decode(run(server, **body).json()["images"][0]))
        assert np.abs(batched - alone).max() <= 2, body
    assert httpx.get(f"{server}/healthz").status_code == 200  # the failure did not hurt the server


def test_metrics_are_prometheus_text(server):
    text = httpx.get(f"{server}/metrics").text
    for name in (
        "diffblocks_requests_total",
        "diffblocks_queue_length",
        "diffblocks_request_seconds_bucket",
        "diffblocks_batch_size_bucket",
    ):
        assert name in text
    assert metric(text, 'diffblocks_requests_total{status="422"}') >= 1


def test_unknown_block_is_one_clear_cli_error():
    proc = subprocess.run(
        [sys.executable, "-m", "diffblocks.cli", "serve", "shapes.text2imgg", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("diffblocks: error:") and "shapes.text2img" in proc.stderr


def test_api_key_from_the_environment_guards_v1():
    proc, url = start_server("shapes.text2img", env={"DIFFBLOCKS_API_KEY": "s3cret"})
    try:
        assert httpx.get(f"{url}/healthz").status_code == 200  # probes need no key
        assert httpx.get(f"{url}/v1/schema").status_code == 401
        wrong = httpx.get(f"{url}/v1/schema", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        right = httpx.get(f"{url}/v1/schema", headers={"Authorization": "Bearer s3cret"})
        assert right.status_code == 200 and "prompt" in right.json()["properties"]
    finally:
        proc.kill()
        proc.wait(30)


@pytest.mark.slow
def test_sigterm_finishes_the_request_in_flight(server):
    # must stay the module's last test: it stops the server
    proc = PROCESSES[server]

    async def request_then_term() -> httpx.Response:
        async with httpx.AsyncClient(timeout=600) as client:
            pending = asyncio.ensure_future(
                client.post(f"{server}/v1/run", json={"prompt": "a green circle", "num_inference_steps": 12})
            )
            await asyncio.sleep(0.6)  # past the 300 ms batching wait: the pipeline is running it
            proc.send_signal(signal.SIGTERM)
            return await pending

    reply = asyncio.run(request_then_term())
    assert reply.status_code == 200 and len(reply.json()["images"]) == 1
    # uvicorn re-raises the SIGTERM it caught once it has shut down cleanly
    assert proc.wait(60) in (0, -signal.SIGTERM)
    assert proc.stderr is not None and "Traceback" not in proc.stderr.read()
