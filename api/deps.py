"""What the routes take through FastAPI's dependencies: the app's parts (on `app.state`: the
settings, model service and metrics set by `create_app`, the rest by the lifespan), the served
model, and the key checks."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader
from pydantic import SecretStr

from api.batching import DynamicBatcher
from api.prometheus import ApiMetrics
from api.recording import PredictionRecorder
from api.service import ModelService, ServedModel
from api.store import PredictionStore
from badbuzz.settings import ApiSettings
from ops.brands import BrandMatcher
from ops.jobs import OpsJobs

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)


# Every dependency is async: FastAPI would run a plain one in its thread pool.
async def get_settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


async def get_service(request: Request) -> ModelService:
    service: ModelService = request.app.state.service
    return service


async def get_metrics(request: Request) -> ApiMetrics:
    metrics: ApiMetrics = request.app.state.metrics
    return metrics


async def get_store(request: Request) -> PredictionStore:
    store: PredictionStore = request.app.state.store
    return store


async def get_jobs(request: Request) -> OpsJobs:
    jobs: OpsJobs = request.app.state.jobs
    return jobs


async def get_brands(request: Request) -> BrandMatcher:
    brands: BrandMatcher = request.app.state.brands
    return brands


async def get_batcher(request: Request) -> DynamicBatcher:
    batcher: DynamicBatcher = request.app.state.batcher
    return batcher


async def get_recorder(request: Request) -> PredictionRecorder:
    recorder: PredictionRecorder = request.app.state.recorder
    return recorder


SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
ServiceDep = Annotated[ModelService, Depends(get_service)]
MetricsDep = Annotated[ApiMetrics, Depends(get_metrics)]
StoreDep = Annotated[PredictionStore, Depends(get_store)]
JobsDep = Annotated[OpsJobs, Depends(get_jobs)]
BrandsDep = Annotated[BrandMatcher, Depends(get_brands)]
BatcherDep = Annotated[DynamicBatcher, Depends(get_batcher)]
RecorderDep = Annotated[PredictionRecorder, Depends(get_recorder)]


async def served_model(service: ServiceDep) -> ServedModel:
    current = service.current
    if current is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, f"no model loaded: {service.not_ready_reason}"
        )
    return current


ModelDep = Annotated[ServedModel, Depends(served_model)]


def matches(key: str, secret: SecretStr) -> bool:
    return secrets.compare_digest(key.encode(), secret.get_secret_value().encode())


async def require_key(
    settings: SettingsDep, key: Annotated[str | None, Security(api_key_header)]
) -> None:
    """The admin's routes: open only when no API key is set."""
    if settings.api_key is None:
        return
    if key is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "send the API key in X-API-Key")
    if not matches(key, settings.api_key):
        if settings.ingest_key is not None and matches(key, settings.ingest_key):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                "this is the ingest key, which opens /predict and /predict/batch only: send the "
                "API key in X-API-Key",
            )
        raise HTTPException(status.HTTP_403_FORBIDDEN, "wrong API key")


async def require_ingest_key(
    settings: SettingsDep, key: Annotated[str | None, Security(api_key_header)]
) -> None:
    """/predict*: open unless predictions are stored and a key is set (they drive the alerts:
    who may write them may raise or hide a bad buzz)."""
    accepted = settings.predict_keys
    if not accepted:
        return
    if key is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "send the ingest key (BADBUZZ_INGEST_KEY, else the API key) in X-API-Key: "
            "predictions are stored and drive the alerts",
        )
    if not any([matches(key, secret) for secret in accepted]):  # every one compared: no timing
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "wrong key: send the ingest key (BADBUZZ_INGEST_KEY, else the API key) in X-API-Key",
        )


# for a route's `dependencies`: checked before anything else the route takes
ApiKey = Depends(require_key)
IngestKey = Depends(require_ingest_key)
