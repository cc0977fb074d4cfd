"""/admin/reload: resolve the model again, swap to it if it changed and passes its smoke
test."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ApiKey, ServiceDep
from api.refusals import KEY_REFUSED
from api.schemas import ReloadResponse

router = APIRouter()


@router.post(
    "/admin/reload",
    response_model=ReloadResponse,
    responses=KEY_REFUSED,
    dependencies=[ApiKey],
    tags=["admin"],
)
def reload(service: ServiceDep) -> ReloadResponse:
    """Resolve the model again and swap to it if it changed and passes its smoke test."""
    result = service.reload()
    return ReloadResponse(**result.__dict__)
