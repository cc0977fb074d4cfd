"""The daily digest mail: the last day's predictions, negative share, error rate, alerts and
scheduled retrains.

Its Message-ID names the day, so a digest is stored at most once per day whichever process
builds it (the outbox refuses a second message with the same id).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine

from badbuzz.settings import OpsSettings
from ops.alerts import error_rate, hourly_verdicts
from ops.database import alerts, as_utc, predictions
from ops.mailer import build_message
from ops.outbox import queue
from ops.report import AlertLine, DigestContext, RenderedReport, render_digest, write_report
from ops.scheduled_retrain import runs_between


def record_digest(
    engine: Engine,
    now: datetime,
    model_card: Mapping[str, Any],
    settings: OpsSettings,
    render: Callable[[DigestContext], RenderedReport] = render_digest,
) -> Path | None:
    """Render the digest of the day before `now` (no transaction open while it renders) and
    queue its mail, then write it to the reports folder; None if this day's digest was
    already queued."""
    with engine.connect() as connection:
        context = digest_context(connection, now, model_card, settings.retrain.cron)
    rendered = render(context)
    message = build_message(rendered, settings, f"<digest-{now:%Y%m%d}@badbuzz>")
    with engine.begin() as connection:
        if not queue(connection, message):
            return None
    return write_report(rendered, settings.reports_dir / f"digest-{now:%Y%m%d}")


def digest_context(
    connection: Connection,
    now: datetime,
    model_card: Mapping[str, Any],
    retrain_cron: str | None = None,
) -> DigestContext:
    start = now - timedelta(days=1)
    total, negative = connection.execute(
        select(func.count(), func.count().filter(predictions.c.label == "negative")).where(
            predictions.c.created_at > start, predictions.c.created_at <= now
        )
    ).one()
    fired = connection.execute(
        select(alerts.c.fired_at, alerts.c.rule, alerts.c.summary)
        .where(alerts.c.fired_at > start, alerts.c.fired_at <= now)
        .order_by(alerts.c.fired_at)
    )
    return DigestContext(
        day_start=start,
        day_end=now,
        predictions=int(total),
        negative_share=negative / total if total else None,
        error_rate=error_rate(connection, start, now),
        alerts=[AlertLine(as_utc(row.fired_at), row.rule, row.summary) for row in fired],
        model_card=dict(model_card),
        hours=hourly_verdicts(connection, now),
        retrains=runs_between(connection, start, now),
        retrain_cron=retrain_cron,
    )
