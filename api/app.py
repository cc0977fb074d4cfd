"""The FastAPI application: thin routes over ModelService and FeedbackStore."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response, Security, status
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.security import APIKeyHeader
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import AfterValidator, SecretStr
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.batching import DynamicBatcher
from api.limits import BodySizeLimit, ConcurrencyLimit, Overloaded
from api.prometheus import ApiMetrics, RequestMetrics
from api.schemas import (
    BRAND_PATTERN,
    AlertOut,
    AlertsResponse,
    BatchRequest,
    BatchResponse,
    BrandBuzzOut,
    BuzzAlertOut,
    BuzzBaselineOut,
    BuzzResponse,
    BuzzWindowOut,
    ErrorMessage,
    FeedbackRequest,
    FeedbackResponse,
    FlaggedTweetOut,
    MailStatus,
    PredictRequest,
    PredictResponse,
    Readiness,
    ReloadResponse,
    brand_or_none,
)
from api.service import ModelService, ServedModel
from api.store import COMMIT_WAIT_S, FeedbackStore, Prediction
from badbuzz.cpu import cpu_summary
from badbuzz.settings import ApiSettings
from ops.alerts import recent_alerts
from ops.brands import BrandMatcher
from ops.buzz_overview import BrandActivity, BuzzOverview, buzz_overview
from ops.database import new_id, utcnow
from ops.jobs import OpsJobs
from ops.latency import LatencyRecorder
from ops.lease import process_identity

log = logging.getLogger(__name__)
prediction_log = logging.getLogger("badbuzz.predictions")
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)


def refusal(description: str) -> dict[str, Any]:
    return {"model": ErrorMessage, "description": description}


# The refusals each route can answer, for the OpenAPI contract (422 FastAPI documents itself).
BAD_BODY: dict[int | str, dict[str, Any]] = {
    400: refusal("The body is not valid UTF-8."),
    413: refusal("The body is over BADBUZZ_MAX_BODY_BYTES."),
}
KEY_REFUSED: dict[int | str, dict[str, Any]] = {
    401: refusal("No API key in X-API-Key (the server has one set)."),
    403: refusal("Wrong API key (the ingest key opens /predict* only)."),
}
INGEST_KEY_REFUSED: dict[int | str, dict[str, Any]] = {
    401: refusal(
        "No key in X-API-Key: predictions are stored and a key is set (BADBUZZ_INGEST_KEY, "
        "else BADBUZZ_API_KEY)."
    ),
    403: refusal("Wrong key: neither the ingest key nor the API key."),
}
NO_MODEL: dict[int | str, dict[str, Any]] = {
    503: refusal("No model loaded: none resolved, or none passed its smoke test."),
}
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}}
# /predict*: no model, or the API at one of its bounds (requests at once, tweets waiting for a
# batch, predictions waiting to be stored: then with Retry-After).
PREDICT_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {
        **refusal(
            "No model loaded (none resolved, or none passed its smoke test); or the API is at "
            "one of its limits (BADBUZZ_MAX_CONCURRENT_PREDICTIONS requests at once, "
            "BADBUZZ_MAX_UNWRITTEN_PREDICTIONS waiting to be stored): then Retry-After says "
            "when to try again."
        ),
        "headers": RETRY_AFTER,
    },
}
PREDICT_PATHS = ("/predict", "/predict/batch")
MAX_BUZZ_BRANDS = 500


async def served_model(request: Request) -> ServedModel:
    service: ModelService = request.app.state.service
    current = service.current
    if current is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, f"no model loaded: {service.not_ready_reason}"
        )
    return current


async def require_key(
    request: Request, key: Annotated[str | None, Security(api_key_header)]
) -> None:
    settings: ApiSettings = request.app.state.settings
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


def matches(key: str, secret: SecretStr) -> bool:
    return secrets.compare_digest(key.encode(), secret.get_secret_value().encode())


async def require_ingest_key(
    request: Request, key: Annotated[str | None, Security(api_key_header)]
) -> None:
    """/predict*: open unless predictions are stored and a key is set (they drive the alerts:
    who may write them may raise or hide a bad buzz)."""
    settings: ApiSettings = request.app.state.settings
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


ModelDep = Annotated[ServedModel, Depends(served_model)]


def busiest(overview: BuzzOverview, limit: int) -> list[BrandActivity]:
    """The `limit` brands that matter most, by name: those with a buzz alert shown, then the
    most negatives over the windows shown (a flood of brands cannot push a buzz out)."""
    alerted = {alert.brand for alert in overview.alerts}
    ranked = sorted(
        overview.brands,
        key=lambda a: (a.brand not in alerted, -sum(w.negatives for w in a.windows), a.brand),
    )
    return sorted(ranked[:limit], key=lambda activity: activity.brand)


def buzz_response(overview: BuzzOverview, limit: int) -> BuzzResponse:
    window = timedelta(seconds=overview.window_seconds)
    return BuzzResponse(
        window_seconds=overview.window_seconds,
        since=overview.since,
        until=overview.until,
        limit=limit,
        brands_total=len(overview.brands),
        brands=[
            BrandBuzzOut(
                brand=activity.brand,
                baseline="learning"
                if activity.baseline is None
                else BuzzBaselineOut(
                    negatives=activity.baseline.negatives,
                    threshold=activity.baseline.threshold,
                    negative_share=activity.baseline.share,
                    days=activity.baseline.days,
                    dispersion=activity.baseline.dispersion,
                ),
                learning=activity.learning,
                windows=[
                    BuzzWindowOut(
                        start=w.start,
                        end=w.start + window,
                        negatives=w.negatives,
                        total=w.total,
                        negative_share=w.negatives / w.total if w.total else None,
                        expected=expected,
                    )
                    for w, expected in zip(activity.windows, activity.expected, strict=True)
                ],
            )
            for activity in busiest(overview, limit)
        ],
        alerts=[
            BuzzAlertOut(
                id=alert.id,
                brand=alert.brand or "",
                fired_at=alert.fired_at,
                window_start=alert.window_start,
                window_end=alert.window_end,
                negatives=round(alert.observed),
                baseline=alert.baseline,
                threshold=round(alert.threshold),
                summary=alert.summary,
                model_version=alert.model_version,
                report_path=alert.report_path,
                mail=MailStatus(
                    sent_at=alert.mail_sent_at,
                    attempts=alert.mail_attempts,
                    last_error=alert.mail_error,
                    state=alert.mail_state,
                    delivered_to=alert.mail_delivered_to,
                    refused_by=alert.mail_refused_by,
                ),
            )
            for alert in overview.alerts
        ],
    )


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    settings = settings or ApiSettings()
    service = ModelService(settings)
    metrics = ApiMetrics(lambda: service.current.card if service.current else None)
    batcher = DynamicBatcher(
        settings.dynamic_batch_max,
        metrics.batch_size.observe,
        max_pending=settings.max_concurrent_predictions,
    )
    predict_latency = LatencyRecorder(process_identity())
    brands = BrandMatcher(settings.brands)

    def report_card() -> dict[str, Any] | None:
        """The model card alert reports show."""
        current = service.current
        if current is None:
            return None
        return {
            **current.card,
            "threshold": current.bundle.threshold,
            "runtime": current.bundle.scorer.runtime,
        }

    def served_reference() -> tuple[str, dict[str, Any] | None] | None:
        """The served version and its bundle's drift reference (the drift rule's)."""
        current = service.current
        if current is None:
            return None
        return current.source.version, current.bundle.manifest.drift_reference

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.home.mkdir(parents=True, exist_ok=True)
        app.state.store = FeedbackStore(
            settings.resolved_database_url, max_unwritten=settings.max_unwritten_predictions
        )
        app.state.jobs = OpsJobs(
            settings, app.state.store.engine, report_card, predict_latency, served_reference
        )
        service.reload()
        # what start-up built lives as long as the process: keep the collector off it
        gc.collect()
        gc.freeze()
        batcher.start()
        scheduler = None
        if settings.reload_interval_s > 0 and settings.model_bundle is None:
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
        app.state.jobs.start()
        yield
        await batcher.stop()
        if scheduler:
            scheduler.shutdown(wait=False)
        app.state.jobs.stop()
        app.state.store.close()

    app = FastAPI(
        title="badbuzz API",
        version="1",
        description="Tweet sentiment for airlines: predictions, feedback, model card.",
        lifespan=lifespan,
        # Prometheus /metrics is the telemetry here; FastAPI's OpenTelemetry hooks would
        # otherwise switch on for MLflow's tracer provider and cost every request a span.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.service = service
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
        ConcurrencyLimit, limit=settings.max_concurrent_predictions, paths=PREDICT_PATHS
    )
    app.add_middleware(RequestMetrics, metrics=metrics, predict_latency=predict_latency)

    @app.exception_handler(Overloaded)
    async def overloaded(request: Request, error: Overloaded) -> JSONResponse:
        return JSONResponse({"detail": error.message}, 503, headers=error.headers())

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        detail = error.detail
        if error.status_code == 400 and detail == "There was an error parsing the body":
            detail = 'the body is not valid JSON in UTF-8: send {"text": "..."} as JSON'
        return JSONResponse({"detail": detail}, error.status_code, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        # Pydantic's error list, minus the echoed input (it may be a 1 MB body or binary).
        details = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in error.errors()
        ]
        return JSONResponse(status_code=422, content={"detail": details})

    def made_predictions(
        model: ServedModel, tweets: list[PredictRequest], p_positive: list[float]
    ) -> list[Prediction]:
        ref = model.ref
        now = utcnow()
        return [
            Prediction(
                new_id(),
                tweet.text,
                model.label(p),
                p,
                ref.name,
                ref.version,
                now,
                tweet.created_at or now,
                brands.brand_of(tweet.text, tweet.brand),
            )
            for tweet, p in zip(tweets, p_positive, strict=True)
        ]

    def respond(model: ServedModel, made: list[Prediction]) -> list[PredictResponse]:
        """Count, log and answer predictions already stored (or not to be stored)."""
        ref = model.ref
        log_each = prediction_log.isEnabledFor(logging.INFO)
        results = []
        for prediction in made:
            metrics.predictions.labels(prediction.label).inc()
            tweeted_at = prediction.tweeted_at or prediction.created_at
            if log_each:
                prediction_log.info(
                    json.dumps(
                        {
                            "prediction_id": prediction.id,
                            "text": prediction.text,
                            "label": prediction.label,
                            "probability_positive": prediction.probability_positive,
                            "model_version": ref.version,
                            "time": prediction.created_at.isoformat(),
                            "tweeted_at": tweeted_at.isoformat(),
                            "brand": prediction.brand,
                        },
                        ensure_ascii=False,
                    )
                )
            results.append(
                PredictResponse(
                    label=prediction.label,  # type: ignore[arg-type]
                    probability_positive=prediction.probability_positive,
                    model=ref,
                    prediction_id=prediction.id,
                    created_at=tweeted_at,
                    brand=prediction.brand or "",
                )
            )
        return results

    def room_for(count: int) -> None:
        """Refuse before scoring what the store could not queue."""
        if settings.log_predictions:
            app.state.store.check_room(count)

    def json_response(body: PredictResponse | BatchResponse) -> Response:
        # already validated: skip FastAPI's second validation and encoding pass
        return Response(body.model_dump_json(), media_type="application/json")

    @app.post(
        "/predict",
        response_model=PredictResponse,
        responses={**BAD_BODY, **INGEST_KEY_REFUSED, **PREDICT_UNAVAILABLE},
        dependencies=[Depends(require_ingest_key)],
        tags=["predict"],
    )
    async def predict(body: PredictRequest, model: ModelDep) -> Response:
        """Score one tweet (requests that arrive together are scored as one batch)."""
        room_for(1)
        p_positive = await batcher.predict(model, body.text)
        made = made_predictions(model, [body], [p_positive])
        if settings.log_predictions:  # committed before it is answered or counted
            stored = asyncio.wrap_future(app.state.store.queue_predictions(made))
            try:
                await asyncio.wait_for(stored, COMMIT_WAIT_S)
            except TimeoutError:
                raise app.state.store.too_slow() from None
        return json_response(respond(model, made)[0])

    @app.post(
        "/predict/batch",
        response_model=BatchResponse,
        responses={**BAD_BODY, **INGEST_KEY_REFUSED, **PREDICT_UNAVAILABLE},
        dependencies=[Depends(require_ingest_key)],
        tags=["predict"],
    )
    def predict_batch(body: BatchRequest, model: ModelDep) -> Response:
        """Score up to 1,000 tweets as one batch (`texts`, or `tweets` with their time and
        brand); results come back in the same order."""
        tweets = body.items()
        room_for(len(tweets))
        p_positive = model.predict_proba([tweet.text for tweet in tweets]).tolist()
        made = made_predictions(model, tweets, p_positive)
        if settings.log_predictions:  # committed before it is answered or counted
            app.state.store.store_predictions(made)
        return json_response(BatchResponse(predictions=respond(model, made)))

    @app.post(
        "/feedback",
        status_code=status.HTTP_201_CREATED,
        response_model=FeedbackResponse,
        responses={
            **BAD_BODY,
            **KEY_REFUSED,
            404: refusal("No prediction with this prediction_id."),
        },
        dependencies=[Depends(require_key)],
        tags=["feedback"],
    )
    def add_feedback(body: FeedbackRequest) -> FeedbackResponse:
        """Record whether a prediction was right; stored before this answers."""
        store: FeedbackStore = app.state.store
        text: str | None = body.text
        label: str | None = body.predicted_label
        version: str | None = None
        if body.prediction_id is not None:
            prediction = store.get_prediction(body.prediction_id)
            if prediction is None:
                raise HTTPException(
                    status.HTTP_404_NOT_FOUND,
                    f"no prediction {body.prediction_id!r}: send the id /predict returned, "
                    "or text and predicted_label",
                )
            text, label, version = prediction.text, prediction.label, prediction.model_version
        assert text is not None and label is not None  # the schema's validator guarantees it
        feedback_id = store.add_feedback(text, label, body.correct, body.prediction_id, version)
        metrics.feedback.labels(str(body.correct).lower()).inc()
        if not body.correct:  # it may complete an error window: evaluate the rules now
            app.state.jobs.nudge()
        return FeedbackResponse(feedback_id=feedback_id, prediction_id=body.prediction_id)

    @app.get("/health/live", tags=["health"])
    async def live() -> dict[str, str]:
        return {"status": "alive"}

    @app.get(
        "/health/ready",
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "Not ready: the reason says why."}},
        tags=["health"],
    )
    async def ready(response: Response) -> Readiness:
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

    @app.get("/model", responses=NO_MODEL, tags=["model"])
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

    @app.get(
        "/metrics",
        response_class=PlainTextResponse,
        responses={200: {"description": "Prometheus text exposition format."}},
        tags=["health"],
    )
    async def prometheus() -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    @app.get(
        "/alerts",
        response_model=AlertsResponse,
        responses=KEY_REFUSED,
        dependencies=[Depends(require_key)],
        tags=["alerts"],
    )
    def list_alerts(
        limit: Annotated[int, Query(ge=1, le=500, description="Most recent first.")] = 50,
    ) -> AlertsResponse:
        """Recent alerts: rule, window, counts, model version, the flagged tweets, the report
        and whether its mail went out."""
        store: FeedbackStore = app.state.store
        with store.engine.connect() as connection:
            records = recent_alerts(connection, limit)
        return AlertsResponse(
            alerts=[
                AlertOut(
                    **{
                        name: getattr(record, name)
                        for name in AlertOut.model_fields
                        if name not in ("flagged", "mail")
                    },
                    flagged=[FlaggedTweetOut(**vars(tweet)) for tweet in record.flagged],
                    mail=MailStatus(
                        sent_at=record.mail_sent_at,
                        attempts=record.mail_attempts,
                        last_error=record.mail_error,
                        state=record.mail_state,
                        delivered_to=record.mail_delivered_to,
                        refused_by=record.mail_refused_by,
                    ),
                )
                for record in records
            ]
        )

    @app.get(
        "/buzz",
        response_model=BuzzResponse,
        responses=KEY_REFUSED,
        dependencies=[Depends(require_key)],
        tags=["alerts"],
    )
    def buzz(
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
        store: FeedbackStore = app.state.store
        with store.engine.connect() as connection:
            overview = buzz_overview(
                connection,
                app.state.jobs.buzz,
                utcnow(),
                hours,
                None if brand is None else brands.named(brand),
            )
        return buzz_response(overview, limit)

    @app.post(
        "/admin/reload",
        response_model=ReloadResponse,
        responses=KEY_REFUSED,
        dependencies=[Depends(require_key)],
        tags=["admin"],
    )
    def reload() -> ReloadResponse:
        """Resolve the model again and swap to it if it changed and passes its smoke test."""
        result = service.reload()
        return ReloadResponse(**result.__dict__)

    return app
