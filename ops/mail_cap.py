"""The cap of alert mails per hour (`BADBUZZ_ALERT_MAILS_PER_HOUR`): a flood (many brands
each earning a buzz, a flapping rule, a stranger's verdicts) must not turn the outbox into
a mail cannon.

Every alert mail, and every summary below, takes a numbered **slot** the first time it is
claimed for sending (`free_slot`); slot n may be taken only an hour after slot n - cap was,
so no rolling hour holds more than `cap` of them. A unique index on the slot number makes
that atomic across runners on SQLite and PostgreSQL alike: two runners that both see the
hour's last slot free both write the same number, and the database refuses one. A retry
keeps its slot. The daily digest takes none: its Message-ID already makes it one a day, and
it is the overview a flood must not silence.

An alert mail that finds no slot is **held** (`held_at`), never sent alone. Once a slot is
free, the held mails are listed in one **summary** mail (`held_summary`: rule, brand,
window, summary line, where the report is), stored in the outbox like any mail; the outbox
marks every listed row `summarised_in` that summary in the same transaction, only where no
summary listed it yet, so a row is listed once, and a crash before the commit leaves the
rows held for the next summary.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Row

from ops.database import alerts, as_utc, outbox
from ops.report import HeldAlert, HeldContext, render_held

HOUR = timedelta(hours=1)
# Rows one summary lists at most (a flood of thousands goes out as a few summaries, each
# taking a slot): a readable mail, and an IN list every database takes.
SUMMARY_ROWS = 500


def counted(row: Row[Any]) -> bool:
    """Whether an outbox row takes a slot: an alert's mail or a summary of held ones."""
    return row.alert_id is not None or bool(row.held_summary)


def free_slot(connection: Connection, mails_per_hour: int, now: datetime) -> int | None:
    """The number of the next slot if a mail may take it at `now`; None while
    `mails_per_hour` mails took one in the last hour."""
    last: int | None = connection.execute(select(func.max(outbox.c.budget_slot))).scalar_one()
    number = (last or 0) + 1
    if number <= mails_per_hour:
        return number
    taken_at = connection.execute(
        select(outbox.c.budget_at).where(outbox.c.budget_slot == number - mails_per_hour)
    ).scalar_one_or_none()
    if taken_at is not None and now - as_utc(taken_at) < HOUR:
        return None
    return number


@dataclass(frozen=True)
class HeldSummary:
    message: EmailMessage
    row_ids: list[str]  # the held outbox rows it lists, oldest first


def held_summary(connection: Connection, mails_per_hour: int, now: datetime) -> HeldSummary | None:
    """The summary mail of the held rows no summary listed yet (the oldest `SUMMARY_ROWS`);
    None when there are none. Its Message-ID names its first row, which no other summary
    lists: two runners that build it both get the same id, and the outbox stores it once.
    No To header: the outbox adds the recipients of the day it sends."""
    rows = connection.execute(
        select(
            outbox.c.id,
            outbox.c.subject,
            outbox.c.message,
            alerts.c.fired_at,
            alerts.c.rule,
            alerts.c.brand,
            alerts.c.window_start,
            alerts.c.window_end,
            alerts.c.summary,
            alerts.c.report_path,
        )
        .select_from(outbox.outerjoin(alerts, alerts.c.id == outbox.c.alert_id))
        .where(outbox.c.held_at.is_not(None), outbox.c.summarised_in.is_(None))
        .order_by(outbox.c.created_at, outbox.c.id)
        .limit(SUMMARY_ROWS)
    ).all()
    if not rows:
        return None
    listed = [
        HeldAlert(
            fired_at=_utc_or_none(row.fired_at),
            rule=row.rule,
            brand=row.brand,
            window_start=_utc_or_none(row.window_start),
            window_end=_utc_or_none(row.window_end),
            summary=row.summary if row.summary is not None else row.subject,
            report_path=row.report_path,
        )
        for row in rows
    ]
    rendered = render_held(HeldContext(listed, mails_per_hour))
    first = BytesParser(policy=policy.default).parsebytes(rows[0].message)
    message = EmailMessage()
    message["From"] = str(first["From"])  # the sender the alerts were stored with
    message["Subject"] = rendered.subject
    message["Message-ID"] = f"<held-{rows[0].id}@badbuzz>"
    message["Date"] = format_datetime(now)
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return HeldSummary(message, [row.id for row in rows])


def _utc_or_none(moment: datetime | None) -> datetime | None:
    return as_utc(moment) if moment is not None else None
