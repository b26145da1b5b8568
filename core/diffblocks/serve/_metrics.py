"""Prometheus metrics of one app (its own registry, so two apps in one process do not mix)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "diffblocks_requests",
            "POST /v1/run requests by HTTP status ('disconnected': the client left before its batch ran)",
            ["status"],
            registry=self.registry,
        )
        self.queue_length = Gauge(
            "diffblocks_queue_length", "requests waiting for a batch", registry=self.registry
        )
        self.latency = Histogram(
            "diffblocks_request_seconds",
            "POST /v1/run time from arrival to response, successful requests",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128),
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "diffblocks_batch_size",
            "requests per pipeline call",
            buckets=(1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64),
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "diffblocks_batch_seconds",
            "seconds per pipeline call",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64),
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
