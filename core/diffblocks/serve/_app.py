"""The FastAPI app: routes, error shapes, and the life cycle (load, batch, drain)."""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import copy
import itertools
import logging
import os
import secrets
import sys
import time
from collections.abc import AsyncIterator, Callable
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from .._front._png import generation_record, png_bytes
from .._front._rows import Row, RowRunner, make_pipeline
from ._batcher import Batcher, QueueFull
from ._metrics import CONTENT_TYPE_LATEST, Metrics
from ._middleware import ApiKey, BodyLimit, RunMetrics
from ._schema import http_inputs, json_schema, request_model, unknown_message

log = logging.getLogger("diffblocks.serve")
#: The input that sets how many images one request makes (diffusers' name).
IMAGES_INPUT = "num_images_per_prompt"
#: HTTP status of a request whose client went away (nginx's convention; never reaches a client)
CLIENT_GONE = 499


def _refused_request(exc: BaseException | None) -> bool:
    """Whether ``exc`` is the pipeline refusing the request's values before any block ran (bad,
    missing or unknown inputs), as opposed to a server-side problem such as a missing component."""
    from .._model._checks import InvalidInputError
    from .._model._errors import MissingComponentError, MissingInputError, UnknownInputError

    if not isinstance(exc, (InvalidInputError, MissingInputError, UnknownInputError)):
        return False
    return not (isinstance(exc, MissingComponentError) and getattr(exc, "missing_components", None))


def _error(status: int, message: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


def _own_copy(pipe: Any) -> Any:
    """The pipeline the server runs: the caller's models, but private copies of stateful
    components (schedulers keep timesteps and step counters), so a caller that goes on using
    ``pipe`` never shares a scheduler with a server call."""
    from .. import ModularPipeline

    comps = {name: value for name, value in pipe.components.items() if value is not None}
    for name, value in comps.items():
        if not hasattr(value, "parameters") and hasattr(value, "set_timesteps"):
            comps[name] = copy.deepcopy(value)
    cls = type(pipe) if isinstance(pipe, ModularPipeline) else ModularPipeline
    clone = cls(pipe.blocks, family=getattr(pipe, "family", None), **comps, **dict(pipe.config))
    clone.default_inputs = dict(getattr(pipe, "default_inputs", {}))
    return clone


def _record_source(blocks: Any) -> dict[str, Any]:
    name = blocks.origin.registered_name
    if isinstance(name, str):
        return {"block": name}
    from .. import spec_dict

    try:
        return {"spec": spec_dict(blocks)}
    except Exception:  # noqa: BLE001 - blocks built in code may have no spec form; record the class
        return {"block": type(blocks).__name__}


class _Served:
    """What the routes share: the pipeline (once loaded), its runner and batcher."""

    def __init__(self) -> None:
        self.runner: RowRunner | None = None
        self.batcher: Batcher | None = None
        self.load_error: str | None = None
        self.encoders = concurrent.futures.ThreadPoolExecutor(1)
        self.ids = itertools.count(1)


def create_app(
    pipeline: Any,
    *,
    max_batch: int = 8,
    max_wait_ms: float = 20.0,
    max_queue: int = 64,
    api_key: str | None = None,
    device: str | None = None,
    max_body_bytes: int = 1 << 20,
    record: dict[str, Any] | None = None,
    png_compress_level: int = 6,
    on_load_error: Callable[[str], None] | None = None,
    max_images: int = 16,
) -> FastAPI:
    """A FastAPI app serving ``pipeline``: a built :class:`~diffblocks.ModularPipeline` (ready at
    once), or blocks (loaded with their default components in the background; ``/healthz``
    answers 503 until then).

    ``record`` says what PNGs record as their source (``{"block": name}`` or ``{"spec": dict}``;
    default: the registered name, else the spec of ``pipeline.blocks``). ``device`` is where
    generators are made and blocks are moved (for blocks; move a built pipeline yourself).
    ``max_images`` bounds the images one request may ask for (``num_images_per_prompt``):
    ``max_batch`` bounds requests per call, not their images, and one request for a million
    images would exhaust memory. A request over it is answered 422 before anything runs.
    """
    from .. import ModularPipeline

    built = isinstance(pipeline, ModularPipeline)
    blocks = pipeline.blocks if built else pipeline
    if not hasattr(blocks, "inputs") or not hasattr(blocks, "init_pipeline"):
        raise TypeError(f"create_app: expected a ModularPipeline or blocks, got {type(pipeline).__name__}")
    if min(max_batch, max_queue, max_images) < 1 or not 0 <= max_wait_ms < float("inf"):
        raise ValueError(
            "max_batch, max_queue and max_images must be at least 1, max_wait_ms a finite number >= 0"
        )
    source = record or _record_source(blocks)
    title = str(source.get("block") or type(blocks).__name__)
    inputs = http_inputs(blocks, dict(pipeline.default_inputs) if built else None)
    for i in inputs:
        if i.name == IMAGES_INPUT:  # the schema, the page's form and pydantic's 422 show the limit
            i.schema["maximum"] = min(i.schema.get("maximum", max_images), max_images)
    schema = json_schema(inputs, title)
    Body = request_model(inputs, "RunRequest")
    known = list(schema["properties"])
    served = _Served()
    metrics = Metrics()

    def ready(pipe: Any) -> None:
        served.runner = RowRunner(pipe, device=device, max_batch_size=max_batch)
        batcher = Batcher(
            served.runner, metrics, max_batch=max_batch, max_wait_s=max_wait_ms / 1000, max_queue=max_queue
        )
        batcher.start()
        served.batcher = batcher

    async def load() -> None:
        try:
            pipe = await asyncio.to_thread(make_pipeline, blocks, device)
        except Exception as exc:  # noqa: BLE001 - reported on /healthz and to the CLI, not raised
            served.load_error = f"could not load the pipeline: {exc}"
            log.error(served.load_error)
            if on_load_error is not None:
                on_load_error(served.load_error)
            return
        ready(pipe)  # made here, so nobody else holds it: no copy needed

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loading = None
        # zlib releases the GIL: a batch of PNGs is encoded side by side
        served.encoders = concurrent.futures.ThreadPoolExecutor(min(8, os.cpu_count() or 1), "png")
        if built:
            ready(_own_copy(pipeline))
        else:
            loading = asyncio.get_running_loop().create_task(load())
        yield
        # uvicorn has stopped accepting and waited for open requests; finish anything queued
        if loading is not None and not loading.done():
            loading.cancel()
        if served.batcher is not None:
            await served.batcher.stop()
        served.encoders.shutdown(wait=True)
        served.runner = served.batcher = None  # a later start (a new lifespan) loads afresh

    app = FastAPI(
        title=f"diffblocks serve: {title}",
        version=_version(),
        lifespan=lifespan,
        description="A diffblocks pipeline over HTTP. POST /v1/run with the inputs of /v1/schema.",
    )
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.add_middleware(ApiKey, key=api_key, prefix="/v1")
    app.add_middleware(RunMetrics, metrics=metrics, path="/v1/run", gone=CLIENT_GONE)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [_problem(e, known) for e in exc.errors()]
        for p in problems:  # the same limit reads the same from pydantic's check and from ours
            if p["field"] == IMAGES_INPUT and "less than or equal" in p["message"]:
                p["message"] += f" (this server's limit, --max-images {max_images})"
        return _error(422, "; ".join(f"{p['field']}: {p['message']}" for p in problems), detail=problems)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail), headers=dict(exc.headers or {}))

    @app.get("/healthz", tags=["service"])
    async def healthz() -> JSONResponse:
        if served.batcher is not None:
            return JSONResponse({"status": "ok"})
        status = "error" if served.load_error else "loading"
        return JSONResponse({"status": status, "error": served.load_error}, status_code=503)

    @app.get("/metrics", tags=["service"], response_class=Response)
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        html = resources.files(__package__).joinpath("static/index.html").read_text(encoding="utf-8")
        return HTMLResponse(html.replace("{{title}}", title))

    @app.get("/v1/schema", tags=["v1"])
    async def get_schema() -> dict[str, Any]:
        """The JSON Schema of POST /v1/run's body, from the pipeline's declared inputs."""
        return schema

    async def run(request: Request, body: BaseModel) -> Response:
        """Run the pipeline on these inputs (batched with concurrent requests)."""
        arrived = time.perf_counter()
        if served.batcher is None or served.runner is None:
            return _error(503, served.load_error or "the pipeline is still loading", {"Retry-After": "5"})
        inputs = body.model_dump(exclude_none=True)
        seed = inputs.pop("seed", None)
        if seed is None:
            seed = secrets.randbelow(2**32)
        row = Row(str(next(served.ids)), inputs, seed)
        # pydantic has refused a given value over the limit; a spec file's default can still be
        # over it, so the value the pipeline would actually use is checked here
        images = served.runner.rules.value(inputs, IMAGES_INPUT)
        if isinstance(images, int) and images > max_images:
            over = f"{images} images per request is over this server's limit of {max_images} (--max-images)"
            return _error(422, f"{IMAGES_INPUT}: {over}", detail=[{"field": IMAGES_INPUT, "message": over}])
        problem = served.runner.check(row)
        if problem is not None:
            return _error(422, problem, detail=[{"field": None, "message": problem}])
        try:
            job = served.batcher.submit(row)
        except QueueFull as full:
            return _error(503, str(full), {"Retry-After": str(full.retry_after)})
        gone: asyncio.Future[Any] = asyncio.ensure_future(_disconnected(request))
        waiting: set[asyncio.Future[Any]] = {job.future, gone}
        try:
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
        if not job.future.done():
            served.batcher.abandon(job)  # dropped if its batch has not started
            return Response(status_code=CLIENT_GONE)
        result = job.future.result()
        if result.error is not None:
            if _refused_request(result.exception):
                # the pipeline's own checks refused the values before any block ran: a client error
                return _error(422, result.error, detail=[{"field": None, "message": result.error}], seed=seed)
            # the block path ('denoise.unet') says where; '' is the pipeline itself
            block = getattr(result.exception, "block_path", None)
            return _error(500, result.error, block=block or None, seed=seed)
        rec = generation_record(inputs=inputs, seed=seed, **source)
        loop = asyncio.get_running_loop()
        pngs = await asyncio.gather(
            *(
                loop.run_in_executor(served.encoders, _encode, im, rec, png_compress_level)
                for im in result.images
            )
        )
        seconds = round(time.perf_counter() - arrived, 4)
        extra = {"X-Seed": str(seed), "X-Seconds": str(seconds), "X-Batch-Size": str(job.batch_size)}
        if "image/png" in request.headers.get("accept", ""):
            return Response(pngs[0], media_type="image/png", headers=extra)
        images = [base64.b64encode(p).decode("ascii") for p in pngs]
        return JSONResponse(
            {"images": images, "seed": seed, "seconds": seconds, "batch_size": job.batch_size}
        )

    # the body model is built at run time, so the annotation is set here, not written above
    run.__annotations__ = {"request": Request, "body": Body, "return": Response}
    app.add_api_route(
        "/v1/run",
        run,
        methods=["POST"],
        tags=["v1"],
        response_class=Response,
        responses={
            200: {
                "description": "JSON {images: [base64 PNG], seed, seconds}, or PNG bytes with Accept: image/png",
                "content": {"image/png": {}, "application/json": {}},
            },
            422: {"description": "invalid inputs, each named"},
            500: {"description": "a block failed; 'block' names its path"},
            503: {"description": "loading, or the queue is full (see Retry-After)"},
        },
    )
    return app


def _encode(image: Any, record: dict[str, Any], level: int) -> bytes:
    if not hasattr(image, "save"):
        raise TypeError(
            f"the pipeline's output is a {type(image).__name__}, not an image; serve needs images"
        )
    return png_bytes(image, record, compress_level=level)


async def _disconnected(request: Request) -> None:
    """Returns when the client has gone (the body is read by now, so receive() waits for that)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


def _problem(error: Any, known: list[str]) -> dict[str, Any]:
    loc = [str(p) for p in error.get("loc", ()) if p != "body"]
    field = loc[0] if loc else "body"
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return {"field": field, "message": unknown_message(field, known)}
    if kind == "missing":
        if field == "body":
            return {"field": "body", "message": "send the inputs as a JSON object"}
        return {"field": field, "message": f"required input {field!r} is missing"}
    if kind == "json_invalid":
        return {"field": "body", "message": f"the body is not valid JSON ({error.get('msg')})"}
    if field == "body":
        return {"field": "body", "message": f"send the inputs as a JSON object ({error.get('msg')})"}
    got = error.get("input")
    return {"field": field, "message": f"{error.get('msg')}, got {got!r}"}


def _version() -> str:
    from .. import __version__

    return __version__


def print_url(host: str, port: int) -> None:
    shown = f"[{host}]" if ":" in host else host
    print(f"diffblocks serve: listening on http://{shown}:{port}", file=sys.stderr, flush=True)
