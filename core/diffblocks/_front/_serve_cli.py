"""``diffblocks serve``: argparse wiring. FastAPI and uvicorn are imported only when it runs."""

from __future__ import annotations

import argparse
import math
import os
import sys

#: The environment variable read when --api-key is not given.
API_KEY_ENV = "DIFFBLOCKS_API_KEY"


def _positive(text: str) -> int:
    value = _whole(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of milliseconds, got {text!r}") from None
    # NaN passes every comparison, and an infinite wait would hold every request forever
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def _port(text: str) -> int:
    value = _whole(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be 0 to 65535 (0 picks a free port), got {value}")
    return value


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def cmd_serve(args: argparse.Namespace) -> int:
    from ._cli_run import check_device
    from ._rows import load_blocks

    if args.device is not None:
        check_device(args.device)  # before listening: a server that cannot load is no server
    blocks, record = load_blocks(args.target)  # a bad name or spec fails here, before any import
    try:
        from ..serve import serve
    except ImportError as exc:
        raise ValueError(
            f"diffblocks serve needs the 'serve' extra ({exc.name} is missing): pip install 'diffblocks[serve]'"
        ) from None
    api_key = args.api_key or os.environ.get(API_KEY_ENV) or None
    if api_key is None and args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"diffblocks serve: warning: listening on {args.host} without an API key; "
            f"anyone who can reach it can use it (--api-key or {API_KEY_ENV})",
            file=sys.stderr,
        )
    code = serve(
        blocks,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        record=record,
        max_batch=args.max_batch,
        max_wait_ms=args.max_wait_ms,
        max_queue=args.max_queue,
        api_key=api_key,
        device=args.device,
        max_body_bytes=args.max_body_bytes,
        max_images=args.max_images,
    )
    if code:
        print("diffblocks: error: the pipeline could not be loaded (see above)", file=sys.stderr)
    return code


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "serve",
        help="serve a spec file or registered block over HTTP (batched), with a web page",
        description="Serve a pipeline: POST /v1/run, GET /v1/schema, /healthz, /metrics and a page at /.",
    )
    p.add_argument(
        "target", metavar="NAME_OR_SPEC", help="a spec file (.toml/.json) or a registered block name"
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only)"
    )
    p.add_argument("--port", type=_port, default=8000, help="port (default: 8000; 0 picks a free one)")
    p.add_argument(
        "--max-batch", type=_positive, default=8, metavar="N", help="requests per pipeline call (default: 8)"
    )
    p.add_argument(
        "--max-wait-ms",
        type=_non_negative,
        default=20.0,
        metavar="M",
        help="how long a request waits for others to batch with (default: 20)",
    )
    p.add_argument(
        "--max-queue",
        type=_positive,
        default=64,
        metavar="Q",
        help="waiting requests before answering 503 with Retry-After (default: 64)",
    )
    p.add_argument(
        "--api-key", metavar="KEY", help=f"require 'Authorization: Bearer KEY' on /v1 (or set {API_KEY_ENV})"
    )
    p.add_argument("--device", metavar="D", help="device for models and generators, e.g. cuda")
    p.add_argument(
        "--max-body-bytes",
        type=_positive,
        default=1 << 20,
        metavar="B",
        help="largest request body (default: 1 MiB)",
    )
    p.add_argument(
        "--max-images",
        type=_positive,
        default=16,
        metavar="N",
        help="most images one request may ask for (num_images_per_prompt; default: 16)",
    )
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.set_defaults(handler=cmd_serve)
