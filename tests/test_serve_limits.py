"""The Python API (`diffblocks.serve.create_app`) under uvicorn on a free loopback port: loading,
the API key, declared choices and ranges, the body limit, the bounded queue and clients that
leave. The pipeline is a tiny block defined here, so these paths cost no model time."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Annotated, Any, Literal

import httpx
import pytest
import uvicorn
from annotated_types import Ge, Le
from diffblocks import InputParam, OutputParam, PipelineBlock
from diffblocks.serve import create_app
from PIL import Image

KEY = "test-key-123"
AUTH = {"Authorization": f"Bearer {KEY}"}
#: every prompt the pipeline has painted, in order
PAINTED: list[str] = []
LOADED = threading.Event()
RGB = {"red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255)}


class Paint(PipelineBlock):
    """One flat image per prompt; brightness drawn from the request's seeded generator."""

    @property
    def inputs(self) -> list[InputParam]:
        return [
            InputParam("prompt", "str | list[str]", required=True, description="a label"),
            InputParam("colour", Literal["red", "green", "blue"], default="red", description="fill"),
            InputParam("size", Annotated[int, Ge(1), Le(64)], default=8, description="side in pixels"),
            InputParam("delay", Annotated[float, Ge(0), Le(5)], default=0.0, description="seconds to wait"),
            # declared with InputParam's own choices / bounds (not in the hint)
            InputParam("finish", str, default="matte", choices=("matte", "gloss"), description="surface"),
            InputParam("marks", "list[int]", ge=0, description="non-negative marks"),
            InputParam("generator", "torch.Generator | list[torch.Generator]"),
        ]

    @property
    def intermediate_outputs(self) -> list[OutputParam]:
        return [OutputParam("images", list, "one image per prompt")]

    def __call__(self, components: Any, state: Any) -> Any:
        import torch

        bs = self.get_block_state(state)
        prompts = [bs.prompt] if isinstance(bs.prompt, str) else list(bs.prompt)
        PAINTED.extend(prompts)
        time.sleep(bs.delay)
        gens = bs.generator if isinstance(bs.generator, list) else [bs.generator] * len(prompts)
        bs.images = []
        for gen in gens:
            level = float(torch.rand(1, generator=gen)) if gen is not None else 1.0
            colour = tuple(int(c * level) for c in RGB[bs.colour])
            bs.images.append(Image.new("RGB", (bs.size, bs.size), colour))
        self.set_block_state(state, bs)
        return components, state

    def init_pipeline(self, *args: Any, **kwargs: Any) -> Any:
        # the server loads blocks in the background: hold it here to see /healthz before and after
        assert LOADED.wait(60)
        return super().init_pipeline(*args, **kwargs)


@pytest.fixture(scope="module")
def server():
    app = create_app(Paint(), api_key=KEY, max_batch=2, max_wait_ms=0, max_queue=2, max_body_bytes=4096)
    srv = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    LOADED.set()
    srv.should_exit = True
    thread.join(30)
    sock.close()


def run(url: str, timeout: float = 30, **body: object) -> httpx.Response:
    return httpx.post(f"{url}/v1/run", json=body, headers=AUTH, timeout=timeout)


def test_healthz_is_503_until_the_pipeline_is_loaded(server):
    reply = httpx.get(f"{server}/healthz")
    assert reply.status_code == 503 and reply.json()["status"] == "loading"
    busy = run(server, prompt="early")
    assert busy.status_code == 503 and busy.headers["retry-after"]
    assert httpx.get(f"{server}/v1/schema", headers=AUTH).status_code == 200  # known before loading
    LOADED.set()
    deadline = time.monotonic() + 30
    while httpx.get(f"{server}/healthz").status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert httpx.get(f"{server}/healthz").json() == {"status": "ok"}
    assert run(server, prompt="first", seed=1).status_code == 200


def test_v1_routes_need_the_api_key(server):
    for method, path in (("GET", "/v1/schema"), ("POST", "/v1/run")):
        bare = httpx.request(method, f"{server}{path}", json={"prompt": "x"})
        assert bare.status_code == 401 and bare.headers["www-authenticate"] == "Bearer"
        assert "Authorization: Bearer KEY" in bare.json()["error"]
        wrong = httpx.request(
            method, f"{server}{path}", json={"prompt": "x"}, headers={"Authorization": "Bearer nope"}
        )
        assert wrong.status_code == 401 and "wrong API key" in wrong.json()["error"]
    for path in ("/healthz", "/metrics", "/"):  # not under /v1: open
        assert httpx.get(f"{server}{path}").status_code == 200
    assert 'diffblocks_requests_total{status="401"} 2.0' in httpx.get(f"{server}/metrics").text


def test_declared_choices_and_ranges_are_in_the_schema_and_enforced(server):
    props = httpx.get(f"{server}/v1/schema", headers=AUTH).json()["properties"]
    assert props["colour"]["enum"] == ["red", "green", "blue"] and props["colour"]["default"] == "red"
    assert (props["size"]["minimum"], props["size"]["maximum"]) == (1, 64)
    reply = run(server, prompt="x", size=0, colour="purple", delay=9.5)
    assert reply.status_code == 422
    problems = {p["field"]: p["message"] for p in reply.json()["detail"]}
    assert set(problems) == {"size", "colour", "delay"}
    assert (
        "greater than or equal to 1" in problems["size"] and "'red', 'green' or 'blue'" in problems["colour"]
    )
    # InputParam(choices=...) is the request model's check too: 422 naming the field
    assert props["finish"]["enum"] == ["matte", "gloss"]
    reply = run(server, prompt="x", finish="satin")
    assert reply.status_code == 422 and reply.json()["detail"][0]["field"] == "finish"
    # a bound on a list is not a JSON Schema number bound; the pipeline's own check refuses the
    # value before any block runs, which is the client's error (422), not the server's (500)
    assert "minimum" not in props["marks"]
    reply = run(server, prompt="x", marks=[1, -5])
    assert reply.status_code == 422 and "no block has run" in reply.json()["error"]
    assert "'marks'" in reply.json()["error"]


def test_seeded_rows_batch_and_keep_their_own_noise(server):
    async def pair() -> list[httpx.Response]:
        async with httpx.AsyncClient(headers=AUTH, timeout=30) as client:
            slow = asyncio.ensure_future(
                client.post(f"{server}/v1/run", json={"prompt": "hold", "delay": 0.5})
            )
            await asyncio.sleep(0.2)  # these two queue up behind it and run as one call
            both = [
                asyncio.ensure_future(client.post(f"{server}/v1/run", json={"prompt": f"p{s}", "seed": s}))
                for s in (5, 6)
            ]
            return [await slow, *await asyncio.gather(*both)]

    _, five, six = asyncio.run(pair())
    assert five.json()["batch_size"] == six.json()["batch_size"] == 2
    alone = run(server, prompt="p5", seed=5).json()
    assert alone["batch_size"] == 1 and alone["images"] == five.json()["images"]


def test_oversized_bodies_are_refused(server):
    reply = httpx.post(f"{server}/v1/run", json={"prompt": "x" * 5000}, headers=AUTH)
    assert reply.status_code == 413 and "4096 bytes" in reply.json()["error"]


def test_full_queue_is_503_with_retry_after_and_leavers_are_dropped(server):
    async def scenario() -> tuple[list[httpx.Response], httpx.Response]:
        async with httpx.AsyncClient(headers=AUTH, timeout=30) as client:
            post = lambda body: asyncio.ensure_future(client.post(f"{server}/v1/run", json=body))  # noqa: E731
            running = post({"prompt": "busy", "delay": 1.0})
            await asyncio.sleep(0.3)  # running now; the next two wait in the queue (max 2)
            queued = [post({"prompt": "queued-a"}), post({"prompt": "queued-b"})]
            await asyncio.sleep(0.2)
            full = await client.post(f"{server}/v1/run", json={"prompt": "one too many"})
            return [await running, *await asyncio.gather(*queued)], full

    done, full = asyncio.run(scenario())
    assert [r.status_code for r in done] == [200, 200, 200]
    assert full.status_code == 503 and int(full.headers["retry-after"]) >= 1
    assert "one too many" not in PAINTED

    async def leave_early() -> None:
        async with httpx.AsyncClient(headers=AUTH, timeout=30) as client:
            running = asyncio.ensure_future(
                client.post(f"{server}/v1/run", json={"prompt": "busy", "delay": 1.0})
            )
            await asyncio.sleep(0.3)
            with pytest.raises(httpx.ReadTimeout):  # gives up while its request waits in the queue
                await client.post(f"{server}/v1/run", json={"prompt": "gone"}, timeout=0.3)
            assert (await running).status_code == 200

    asyncio.run(leave_early())
    time.sleep(0.2)
    assert "gone" not in PAINTED  # dropped before its batch started
    metrics = httpx.get(f"{server}/metrics").text
    assert 'diffblocks_requests_total{status="disconnected"} 1.0' in metrics
    assert 'diffblocks_requests_total{status="503"}' in metrics
    assert run(server, prompt="after").status_code == 200


def test_spec_file_inputs_become_defaults_of_the_schema(tmp_path):
    from diffblocks import load_spec

    spec = tmp_path / "p.toml"
    spec.write_text('diffblocks_spec = 1\nworkflow = "example.arith"\n[inputs]\nvalue = 5\n')
    body = create_app(load_spec(spec)).openapi()["components"]["schemas"]["RunRequest"]
    assert "value" not in body.get("required", []) and body["properties"]["value"]["default"] == 5
    spec.write_text('diffblocks_spec = 1\nworkflow = "example.arith"\n')
    plain = create_app(load_spec(spec)).openapi()["components"]["schemas"]["RunRequest"]
    assert plain["required"] == ["value"] and "default" not in plain["properties"]["value"]


class Many(PipelineBlock):
    """Images per prompt, declared as SD does; counts its calls so a test can see none ran."""

    calls = 0

    @property
    def inputs(self) -> list[InputParam]:
        return [
            InputParam("prompt", "str | list[str]", required=True),
            InputParam("num_images_per_prompt", int, default=1, ge=1),
            InputParam("generator", "torch.Generator | list[torch.Generator]"),
        ]

    @property
    def intermediate_outputs(self) -> list[OutputParam]:
        return [OutputParam("images", list, "one image per prompt and copy")]

    def __call__(self, components: Any, state: Any) -> Any:
        Many.calls += 1
        bs = self.get_block_state(state)
        prompts = [bs.prompt] if isinstance(bs.prompt, str) else list(bs.prompt)
        bs.images = [Image.new("RGB", (2, 2)) for _ in prompts for _ in range(bs.num_images_per_prompt)]
        self.set_block_state(state, bs)
        return components, state


def test_images_per_request_are_bounded_before_anything_runs():
    from fastapi.testclient import TestClient

    pipe = Many().init_pipeline()
    with TestClient(create_app(pipe, max_images=4, max_wait_ms=0)) as client:
        schema = client.get("/v1/schema").json()["properties"]["num_images_per_prompt"]
        assert schema["maximum"] == 4 and schema["minimum"] == 1
        reply = client.post("/v1/run", json={"prompt": "a red circle", "num_images_per_prompt": 1000000})
        assert reply.status_code == 422 and Many.calls == 0
        (problem,) = reply.json()["detail"]
        assert problem["field"] == "num_images_per_prompt" and "less than or equal to 4" in problem["message"]
        assert "this server's limit, --max-images 4" in problem["message"]
        ok = client.post("/v1/run", json={"prompt": "a red circle", "num_images_per_prompt": 4})
        assert ok.status_code == 200 and len(ok.json()["images"]) == 4 and Many.calls == 1


def test_a_default_past_the_image_limit_is_refused_too():
    from fastapi.testclient import TestClient

    pipe = Many().init_pipeline()
    pipe.default_inputs = {"num_images_per_prompt": 100}  # as a spec file's [inputs] would set it
    calls = Many.calls
    with TestClient(create_app(pipe, max_images=4)) as client:
        reply = client.post("/v1/run", json={"prompt": "a red circle"})
    assert reply.status_code == 422 and Many.calls == calls
    assert reply.json()["error"].startswith("num_images_per_prompt: 100 images per request")
    assert "limit of 4 (--max-images)" in reply.json()["error"]


def test_the_image_limit_must_be_positive():
    with pytest.raises(ValueError, match="max_images"):
        create_app(Many(), max_images=0)
