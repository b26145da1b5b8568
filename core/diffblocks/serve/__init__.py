"""Serve a diffblocks pipeline over HTTP, with dynamic batching and a web page.

``diffblocks serve NAME_OR_SPEC`` on the command line; from Python::

    from diffblocks.serve import create_app, serve

    app = create_app(pipe, max_batch=8)   # a FastAPI app, for any ASGI server
    serve(pipe, port=8000)                # or run it with uvicorn until SIGTERM / Ctrl-C

Routes: ``GET /healthz``, ``GET /v1/schema``, ``POST /v1/run``, ``GET /metrics`` and the page at
``GET /``. Needs the ``serve`` extra (``pip install 'diffblocks[serve]'``): FastAPI, uvicorn and
prometheus-client, imported by this package only, never by ``import diffblocks``.
"""

from __future__ import annotations

import socket
from typing import Any

from ._app import create_app, print_url

__all__ = ["create_app", "serve"]


def serve(
    pipeline: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    log_level: str = "info",
    **options: Any,
) -> int:
    """Run :func:`create_app` (``options`` are its keywords) with uvicorn until SIGTERM or Ctrl-C,
    finishing the requests in flight first. Returns 0, or 2 when blocks given to load could not
    be loaded (the error is printed). ``port=0`` picks a free port; the address is printed to
    stderr as ``diffblocks serve: listening on http://HOST:PORT``.
    """
    import uvicorn

    failed: list[str] = []

    def load_failed(message: str) -> None:
        failed.append(message)
        server.should_exit = True

    app = create_app(pipeline, on_load_error=load_failed, **options)
    # no graceful-shutdown timeout: SIGTERM lets every request in flight finish
    config = uvicorn.Config(app, log_level=log_level, timeout_graceful_shutdown=None)
    server = uvicorn.Server(config)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ValueError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    print_url(host, sock.getsockname()[1])
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    return 2 if failed else 0
