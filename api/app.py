"""The FastAPI application: settings, middlewares, refusal handlers, lifespan and routers, wired
together (the routes are in `api/routes/`, what they take in `api/deps.py`)."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from api.batching import DynamicBatcher
from api.limits import BodySizeLimit, ConcurrencyLimit
from api.prometheus import ApiMetrics, RequestMetrics
from api.recording import PredictionRecorder
from api.refusals import REFUSAL_HANDLERS
from api.routes import admin, alerts, feedback, health, predict
from api.service import ModelService
from api.store import PredictionStore
from badbuzz.settings import ApiSettings
from ops.brands import BrandMatcher
from ops.jobs import OpsJobs
from ops.latency import LatencyRecorder
from ops.lease import process_identity

if TYPE_CHECKING:
    from apscheduler.schedulers.background import BackgroundScheduler


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    """The API on `settings` (else read from the environment); the lifespan starts the rest."""
    settings = settings or ApiSettings()
    app = FastAPI(
        title="badbuzz API",
        version="1",
        description="Tweet sentiment for airlines: predictions, feedback, model card.",
        lifespan=lifespan,
        exception_handlers=REFUSAL_HANDLERS,
        # Prometheus /metrics is the telemetry here; FastAPI's OpenTelemetry hooks would
        # otherwise switch on for MLflow's tracer provider and cost every request a span.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    # what the middlewares hold is made here; the lifespan makes the rest
    app.state.settings = settings
    app.state.service = service = ModelService(settings)
    app.state.metrics = metrics = ApiMetrics(service.current_card)
    app.state.predict_latency = predict_latency = LatencyRecorder(process_identity())

    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "X-API-Key"],
        )
    # inside the metrics: a refused request is counted, as a 503
    app.add_middleware(
        ConcurrencyLimit, limit=settings.max_concurrent_predictions, paths=predict.PREDICT_PATHS
    )
    app.add_middleware(RequestMetrics, metrics=metrics, predict_latency=predict_latency)

    for routes in (predict, feedback, health, alerts, admin):
        app.include_router(routes.router)
    return app


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the store, build the ops jobs, load the model, start the batcher, the model
    refresh and the jobs (onto `app.state`); stop them at shutdown."""
    state = app.state
    settings: ApiSettings = state.settings
    service: ModelService = state.service
    settings.home.mkdir(parents=True, exist_ok=True)
    state.store = store = PredictionStore(
        settings.resolved_database_url, max_unwritten=settings.max_unwritten_predictions
    )
    state.jobs = jobs = OpsJobs(
        settings, store.engine, service.report_card, state.predict_latency, service.served_reference
    )
    state.brands = brands = BrandMatcher(settings.brands)
    state.recorder = PredictionRecorder(
        store if settings.log_predictions else None, state.metrics, brands
    )
    state.batcher = batcher = DynamicBatcher(
        settings.dynamic_batch_max,
        state.metrics.batch_size.observe,
        max_pending=settings.max_concurrent_predictions,
    )
    service.reload()
    # what start-up built lives as long as the process: keep the collector off it
    gc.collect()
    gc.freeze()
    batcher.start()
    scheduler = model_refresh(settings, service)
    jobs.start()
    yield
    await batcher.stop()
    if scheduler:
        scheduler.shutdown(wait=False)
    jobs.stop()
    store.close()


def model_refresh(settings: ApiSettings, service: ModelService) -> BackgroundScheduler | None:
    """Resolve the model again every BADBUZZ_RELOAD_INTERVAL_S (not when serving a bundle
    file, nor with the interval 0); started, or None."""
    if settings.reload_interval_s <= 0 or settings.model_bundle is not None:
        return None
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler()
    scheduler.add_job(
        service.reload,
        "interval",
        seconds=settings.reload_interval_s,
        id="model-refresh",
        max_instances=1,
        coalesce=True,
    )
    scheduler.start()
    return scheduler
