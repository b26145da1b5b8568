"""Plain ASGI middleware (not BaseHTTPMiddleware, which wraps ``receive`` and so hides a client's
disconnect from the route): request metrics, the API key, the body size limit."""

from __future__ import annotations

import hmac
import json
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._metrics import Metrics


async def _send_json(
    send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]]
) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


class RunMetrics:
    """Counts ``path`` requests by status and times the successful ones."""

    def __init__(self, app: ASGIApp, metrics: Metrics, path: str, gone: int) -> None:
        self.app, self.metrics, self.path, self.gone = app, metrics, path, gone

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            label = "disconnected" if status == self.gone else str(status)
            self.metrics.requests.labels(status=label).inc()
            if status == 200:
                self.metrics.latency.observe(time.perf_counter() - start)


class ApiKey:
    """With a key, every route under ``prefix`` needs ``Authorization: Bearer KEY`` (else 401)."""

    def __init__(self, app: ASGIApp, key: str | None, prefix: str) -> None:
        self.app, self.prefix = app, prefix
        self.key = key.encode() if key else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.key is None or scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"authorization", b"")
        scheme, _, token = given.partition(b" ")
        # compare_digest: the time taken does not tell how much of a guessed key was right
        if scheme.lower() != b"bearer" or not hmac.compare_digest(token.strip(), self.key):
            what = "wrong API key" if given else "this server needs an API key"
            await _send_json(
                send,
                401,
                {"error": f"{what}: send the header 'Authorization: Bearer KEY'"},
                [(b"www-authenticate", b"Bearer")],
            )
            return
        await self.app(scope, receive, send)


class BodyLimit:
    """Refuses request bodies over ``max_bytes`` with 413, before the app reads them.

    The body is read here (bounded), then replayed to the app; after it, ``receive`` is the
    server's own again, so the route still hears a disconnect.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client left while sending
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.max_bytes:
                await self._refuse(send)
                return
        replay: list[Message] = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def receiving() -> Message:
            return replay.pop() if replay else await receive()

        await self.app(scope, receiving, send)

    async def _refuse(self, send: Send) -> None:
        await _send_json(
            send, 413, {"error": f"the request body is over the limit of {self.max_bytes} bytes"}, []
        )
