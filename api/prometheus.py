"""Prometheus metrics of one app instance (its own registry, so tests can build many apps).

With several worker processes (`badbuzz serve --workers N` sets PROMETHEUS_MULTIPROC_DIR),
counters and histograms live in memory-mapped files there and every scrape, whichever
worker answers it, sums all workers; the served model is read at scrape time.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import InfoMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ops.latency import LatencyRecorder

MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


class ServedModelInfo(Collector):
    """`badbuzz_model_info`: the card of the model this process serves, read per scrape."""

    def __init__(self, card: Callable[[], dict[str, Any] | None]) -> None:
        self.card = card

    def collect(self) -> Iterator[InfoMetricFamily]:
        family = InfoMetricFamily("badbuzz_model", "The model being served.")
        card = self.card()
        if card is not None:
            family.add_metric([], {k: str(v) for k, v in card.items()})
        yield family


class ApiMetrics:
    def __init__(self, model_card: Callable[[], dict[str, Any] | None]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "badbuzz_requests", "HTTP requests.", ["route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "badbuzz_request_seconds",
            "Request latency.",
            ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self.predictions = Counter(
            "badbuzz_predictions", "Predictions by label.", ["label"], registry=self.registry
        )
        self.batch_size = Histogram(
            "badbuzz_predict_batch_size",
            "Single-tweet requests scored together by the dynamic batcher.",
            buckets=(1, 2, 4, 8, 16, 32, 64),
            registry=self.registry,
        )
        self.feedback = Counter(
            "badbuzz_feedback", "User feedback by verdict.", ["correct"], registry=self.registry
        )
        self.model = ServedModelInfo(model_card)
        self.registry.register(self.model)

    def exposition(self) -> bytes:
        """The Prometheus text of every worker (multiprocess mode) or of this process."""
        if not os.environ.get(MULTIPROCESS_DIR_ENV):
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        registry.register(self.model)
        return generate_latest(registry)


class RequestMetrics:
    """Pure ASGI middleware (BaseHTTPMiddleware costs a task and a stream per request):
    count and time each request by route template and status; `/predict` durations also go
    to `predict_latency` (the latency alert's histograms)."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics, predict_latency: LatencyRecorder) -> None:
        self.app = app
        self.metrics = metrics
        self.predict_latency = predict_latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            seconds = time.perf_counter() - started
            self.metrics.latency.labels(route).observe(seconds)
            self.metrics.requests.labels(route, str(status)).inc()
            if route == "/predict":
                self.predict_latency.observe(seconds, time.time())
