"""/alerts (what the rules raised, with their reports and mails) and /buzz (negatives per
brand and window, each brand's baseline, the buzz alerts), read from the database."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AfterValidator

from api.deps import ApiKey, BrandsDep, JobsDep, StoreDep
from api.refusals import KEY_REFUSED
from api.responses import alerts_response, buzz_response
from api.schemas import BRAND_PATTERN, AlertsResponse, BuzzResponse, brand_or_none
from ops.alerts import recent_alerts
from ops.buzz_overview import buzz_overview
from ops.database import utcnow

router = APIRouter()
MAX_BUZZ_BRANDS = 500


@router.get(
    "/alerts",
    response_model=AlertsResponse,
    responses=KEY_REFUSED,
    dependencies=[ApiKey],
    tags=["alerts"],
)
def list_alerts(
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=500, description="Most recent first.")] = 50,
) -> AlertsResponse:
    """Recent alerts: rule, window, counts, model version, the flagged tweets, the report
    and whether its mail went out."""
    with store.engine.connect() as connection:
        records = recent_alerts(connection, limit)
    return alerts_response(records)


@router.get(
    "/buzz",
    response_model=BuzzResponse,
    responses=KEY_REFUSED,
    dependencies=[ApiKey],
    tags=["alerts"],
)
def buzz(
    store: StoreDep,
    jobs: JobsDep,
    brands: BrandsDep,
    brand: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=65,
            json_schema_extra={"pattern": BRAND_PATTERN},
            description="Only this brand (`all`: tweets that named none); unset: every brand.",
        ),
        AfterValidator(brand_or_none),
    ] = None,
    hours: Annotated[
        int, Query(ge=1, le=168, description="How far back, by the tweets' own time.")
    ] = 48,
    limit: Annotated[
        int,
        Query(
            ge=1,
            le=MAX_BUZZ_BRANDS,
            description="Most brands shown: those with a buzz alert, then the most "
            "negatives (`brands_total` says how many there were).",
        ),
    ] = 50,
) -> BuzzResponse:
    """Negative tweets and their share per brand and window (BADBUZZ_BUZZ_WINDOW_SECONDS)
    over the last `hours`, each brand's baseline, and the buzz alerts of that time; at
    most `limit` brands."""
    with store.engine.connect() as connection:
        overview = buzz_overview(
            connection,
            jobs.buzz,
            utcnow(),
            hours,
            None if brand is None else brands.named(brand),
        )
    return buzz_response(overview, limit)
