"""Prometheus metrics of one app instance (its own registry, so tests can build many apps)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, Info


class ApiMetrics:
    def __init__(self) -> None:
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
        self.feedback = Counter(
            "badbuzz_feedback", "User feedback by verdict.", ["correct"], registry=self.registry
        )
        self.model = Info("badbuzz_model", "The model being served.", registry=self.registry)
