"""Answers built from records: a stored prediction, the alerts and the `/buzz` read model of
`ops`, each mapped onto its response schema."""

from __future__ import annotations

from datetime import timedelta

from api.schemas import (
    AlertOut,
    AlertsResponse,
    BrandBuzzOut,
    BuzzAlertOut,
    BuzzBaselineOut,
    BuzzResponse,
    BuzzWindowOut,
    FlaggedTweetOut,
    MailStatus,
    ModelRef,
    PredictResponse,
)
from api.store import Prediction
from ops.alerts import AlertRecord
from ops.buzz_overview import BrandActivity, BuzzOverview


def prediction_response(prediction: Prediction, model: ModelRef) -> PredictResponse:
    return PredictResponse(
        label=prediction.label,  # type: ignore[arg-type]
        probability_positive=prediction.probability_positive,
        model=model,
        prediction_id=prediction.id,
        created_at=prediction.tweeted_at or prediction.created_at,
        brand=prediction.brand or "",
    )


def mail_status(record: AlertRecord) -> MailStatus:
    return MailStatus(
        sent_at=record.mail_sent_at,
        attempts=record.mail_attempts,
        last_error=record.mail_error,
        state=record.mail_state,
        delivered_to=record.mail_delivered_to,
        refused_by=record.mail_refused_by,
    )


def alerts_response(records: list[AlertRecord]) -> AlertsResponse:
    return AlertsResponse(
        alerts=[
            AlertOut(
                **{
                    name: getattr(record, name)
                    for name in AlertOut.model_fields
                    if name not in ("flagged", "mail")
                },
                flagged=[FlaggedTweetOut(**vars(tweet)) for tweet in record.flagged],
                mail=mail_status(record),
            )
            for record in records
        ]
    )


def busiest(overview: BuzzOverview, limit: int) -> list[BrandActivity]:
    """The `limit` brands that matter most, by name: those with a buzz alert shown, then the
    most negatives over the windows shown (a flood of brands cannot push a buzz out)."""
    alerted = {alert.brand for alert in overview.alerts}
    ranked = sorted(
        overview.brands,
        key=lambda a: (a.brand not in alerted, -sum(w.negatives for w in a.windows), a.brand),
    )
    return sorted(ranked[:limit], key=lambda activity: activity.brand)


def brand_buzz(activity: BrandActivity, window: timedelta) -> BrandBuzzOut:
    baseline = activity.baseline
    return BrandBuzzOut(
        brand=activity.brand,
        baseline="learning"
        if baseline is None
        else BuzzBaselineOut(
            negatives=baseline.negatives,
            threshold=baseline.threshold,
            negative_share=baseline.share,
            days=baseline.days,
            dispersion=baseline.dispersion,
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


def buzz_alert(alert: AlertRecord) -> BuzzAlertOut:
    return BuzzAlertOut(
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
        mail=mail_status(alert),
    )


def buzz_response(overview: BuzzOverview, limit: int) -> BuzzResponse:
    """At most `limit` brands (`busiest`), with every buzz alert of the windows shown."""
    window = timedelta(seconds=overview.window_seconds)
    return BuzzResponse(
        window_seconds=overview.window_seconds,
        since=overview.since,
        until=overview.until,
        limit=limit,
        brands_total=len(overview.brands),
        brands=[brand_buzz(activity, window) for activity in busiest(overview, limit)],
        alerts=[buzz_alert(alert) for alert in overview.alerts],
    )
