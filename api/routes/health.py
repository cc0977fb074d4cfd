"""What the service says about itself: alive, ready (and on which model), the model card,
the Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST

from api.deps import MetricsDep, ModelDep, ServiceDep
from api.refusals import NO_MODEL
from api.schemas import Readiness
from badbuzz.cpu import cpu_summary

router = APIRouter()


@router.get("/health/live", tags=["health"])
async def live() -> dict[str, str]:
    return {"status": "alive"}


@router.get(
    "/health/ready",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Not ready: the reason says why."}},
    tags=["health"],
)
async def ready(response: Response, service: ServiceDep) -> Readiness:
    current = service.current
    if current is None:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return Readiness(ready=False, reason=service.not_ready_reason)
    return Readiness(
        ready=True,
        model=current.ref,
        stale=current.source.stale,
        stale_reason=current.source.stale_reason or None,
    )


@router.get("/model", responses=NO_MODEL, tags=["model"])
async def model_card(model: ModelDep) -> dict[str, Any]:
    """Version, tags, metrics, runtime and the CPU it runs on."""
    return {
        **model.card,
        "runtime": model.bundle.scorer.runtime,
        "bundle_runtime": model.bundle.manifest.runtime,
        "threshold": model.bundle.threshold,
        "tags": model.source.tags,
        "metrics": model.bundle.metadata.get("metrics", {}),
        "normalization": model.bundle.manifest.normalization,
        "stale": model.source.stale,
        "loaded_at": model.loaded_at,
        "cpu": cpu_summary(),
    }


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={200: {"description": "Prometheus text exposition format."}},
    tags=["health"],
)
async def prometheus(metrics: MetricsDep) -> Response:
    return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
