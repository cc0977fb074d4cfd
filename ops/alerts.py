"""Alert records: what a firing rule leaves behind, in one transaction: the alert row (time,
rule, counts, model version), the feedback rows that caused it, its report (also written to
the reports folder) and its mail in the outbox. And the reads the API lists them with. A bad
buzz (`ops.buzz_watch`) builds its own report and is stored the same way (`store_alert`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, func, insert, select
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.sql.elements import ColumnElement

from badbuzz.settings import OpsSettings
from ops.database import alert_feedback, alerts, as_utc, feedback, outbox, predictions
from ops.mailer import build_message
from ops.outbox import State, addresses, queue, state
from ops.report import (
    AlertContext,
    ErrorRate,
    FlaggedTweet,
    HourCount,
    RenderedReport,
    render_alert,
    write_report,
)
from ops.rules import Firing


def error_rate(connection: Connection, since: datetime, until: datetime) -> ErrorRate:
    judged, wrong = connection.execute(
        select(func.count(), func.count().filter(feedback.c.correct.is_(False))).where(
            feedback.c.created_at > since, feedback.c.created_at <= until
        )
    ).one()
    made = connection.execute(
        select(func.count()).where(
            predictions.c.created_at > since, predictions.c.created_at <= until
        )
    ).scalar_one()
    return ErrorRate(int(wrong), int(judged), int(made))


def hourly_verdicts(connection: Connection, until: datetime) -> list[HourCount]:
    """Verdicts per hour over the 24 hours before `until`, oldest first."""
    last = until.replace(minute=0, second=0, microsecond=0)
    hours = [last - timedelta(hours=n) for n in range(23, -1, -1)]
    wrong = dict.fromkeys(hours, 0)
    judged = dict.fromkeys(hours, 0)
    rows = connection.execute(
        select(feedback.c.created_at, feedback.c.correct).where(
            feedback.c.created_at > hours[0], feedback.c.created_at <= until
        )
    )
    for row in rows:
        hour = as_utc(row.created_at).replace(minute=0, second=0, microsecond=0)
        if hour in judged:
            judged[hour] += 1
            wrong[hour] += not row.correct
    return [HourCount(hour, wrong[hour], judged[hour]) for hour in hours]


def flagged_tweets(connection: Connection, feedback_ids: list[str]) -> list[FlaggedTweet]:
    if not feedback_ids:
        return []
    rows = connection.execute(
        select(
            feedback.c.text,
            feedback.c.predicted_label,
            predictions.c.probability_positive,
            feedback.c.created_at,
            feedback.c.model_version,
        )
        .select_from(feedback.outerjoin(predictions, feedback.c.prediction_id == predictions.c.id))
        .where(feedback.c.id.in_(feedback_ids))
        .order_by(feedback.c.created_at)
    )
    return [
        FlaggedTweet(
            row.text,
            row.predicted_label,
            row.probability_positive,
            as_utc(row.created_at),
            row.model_version,
        )
        for row in rows
    ]


def record_alert(
    engine: Engine,
    firing: Firing,
    alert_id: str,
    model_card: Mapping[str, Any],
    settings: OpsSettings,
    render: Callable[[AlertContext], RenderedReport] = render_alert,
) -> Path:
    """Read what the report needs, render and write the report with no transaction open (a
    chart can take a while), then store the alert, the feedback rows behind it and its mail
    in one short transaction; the report's folder is returned. A crash can leave a report
    folder without its alert, never an alert without its report or its mail."""
    with engine.connect() as connection:
        context = report_context(connection, firing, alert_id, model_card)
    return store_alert(engine, firing, alert_id, model_card, settings, render(context))


def store_alert(
    engine: Engine,
    firing: Firing,
    alert_id: str,
    model_card: Mapping[str, Any],
    settings: OpsSettings,
    rendered: RenderedReport,
    fired_at: datetime | None = None,
    save_rule_state: Callable[[Connection], None] | None = None,
) -> Path:
    """Write a rendered report, then the alert, its feedback rows, its mail and the rule's
    own state (`save_rule_state`, e.g. the buzz watch's brand state) in one transaction (every
    rule's alert ends here); the report's folder is returned."""
    now = fired_at or firing.window_end
    folder = write_report(
        rendered, settings.reports_dir / f"alert-{now:%Y%m%dT%H%M%SZ}-{alert_id[:8]}"
    )
    with engine.begin() as connection:
        connection.execute(
            insert(alerts).values(
                id=alert_id,
                rule=firing.rule,
                fired_at=now,
                window_start=firing.window_start,
                window_end=firing.window_end,
                observed=firing.observed,
                threshold=firing.threshold,
                model_version=model_card.get("version"),
                summary=firing.summary,
                report_text=rendered.text,
                report_path=str(folder),
                brand=firing.brand,
                baseline=firing.baseline,
            )
        )
        if firing.feedback_ids:
            connection.execute(
                insert(alert_feedback),
                [{"alert_id": alert_id, "feedback_id": fid} for fid in firing.feedback_ids],
            )
        message = build_message(rendered, settings, f"<alert-{alert_id}@badbuzz>")
        queue(connection, message, alert_id)
        if save_rule_state is not None:
            save_rule_state(connection)
    return folder


def report_context(
    connection: Connection, firing: Firing, alert_id: str, model_card: Mapping[str, Any]
) -> AlertContext:
    now = firing.window_end
    return AlertContext(
        alert_id=alert_id,
        rule=firing.rule,
        fired_at=now,
        window_start=firing.window_start,
        window_end=firing.window_end,
        observed=firing.observed,
        threshold=firing.threshold,
        summary=firing.summary,
        flagged=flagged_tweets(connection, firing.feedback_ids),
        model_card=dict(model_card),
        error_rate_hour=error_rate(connection, now - timedelta(hours=1), now),
        error_rate_day=error_rate(connection, now - timedelta(days=1), now),
        hours=hourly_verdicts(connection, now),
    )


@dataclass(frozen=True)
class AlertRecord:
    id: str
    rule: str
    fired_at: datetime
    window_start: datetime
    window_end: datetime
    observed: float
    threshold: float
    model_version: str | None
    summary: str
    report_text: str
    report_path: str | None
    brand: str | None
    baseline: float | None
    flagged: list[FlaggedTweet]
    mail_sent_at: datetime | None
    mail_attempts: int
    mail_error: str | None
    mail_state: State  # summarised: the mail_* fields are those of the summary mail
    mail_delivered_to: list[str]  # the recipients that have it
    mail_refused_by: list[str]  # the recipients that refused it for good


def recent_alerts(
    connection: Connection, limit: int, *where: ColumnElement[bool]
) -> list[AlertRecord]:
    """The latest alerts (those matching `where`), newest first, with their flagged tweets
    and mail status: their own mail's, or, where the hourly cap held it and a summary lists
    it, the summary's."""
    summary = outbox.alias("summary")
    # the mail that carries the alert: its own, or the summary that lists it
    carrier = {
        name: func.coalesce(summary.c[name], outbox.c[name]).label(name)
        for name in ("sent_at", "attempts", "last_error", "dead_at", "delivered_to", "refused_by")
    }
    rows = connection.execute(
        select(alerts, outbox.c.held_at, outbox.c.summarised_in, *carrier.values())
        .select_from(
            alerts.outerjoin(outbox, and_(outbox.c.alert_id == alerts.c.id)).outerjoin(
                summary, summary.c.id == outbox.c.summarised_in
            )
        )
        .where(*where)
        .order_by(alerts.c.fired_at.desc())
        .limit(limit)
    ).all()
    records = []
    for row in rows:
        ids: list[str] = list(
            connection.execute(
                select(alert_feedback.c.feedback_id).where(alert_feedback.c.alert_id == row.id)
            ).scalars()
        )
        records.append(
            AlertRecord(
                id=row.id,
                rule=row.rule,
                fired_at=as_utc(row.fired_at),
                window_start=as_utc(row.window_start),
                window_end=as_utc(row.window_end),
                observed=row.observed,
                threshold=row.threshold,
                model_version=row.model_version,
                summary=row.summary,
                report_text=row.report_text,
                report_path=row.report_path,
                brand=row.brand,
                baseline=row.baseline,
                flagged=flagged_tweets(connection, ids),
                mail_sent_at=as_utc(row.sent_at) if row.sent_at else None,
                mail_attempts=row.attempts or 0,
                mail_error=row.last_error,
                mail_state=mail_state(row),
                mail_delivered_to=addresses(row.delivered_to),
                mail_refused_by=addresses(row.refused_by),
            )
        )
    return records


def mail_state(row: Row[Any]) -> State:
    """An alert's mail state; a listed one reads `summarised` until its summary is given up
    (then `dead`: nobody got the list)."""
    if row.summarised_in is None:
        return state(row.sent_at, row.dead_at, row.held_at)
    return "dead" if row.dead_at is not None else "summarised"
