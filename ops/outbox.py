"""The durable outbox: a mail is stored (in the same transaction as the alert it reports)
before anyone tries to send it, and each recipient that accepted it is recorded at once, so
no one who has it is mailed again. A mail ends `sent` (every recipient has it) or `dead`
(given up: the server refused it or some recipients for good, 5xx; or it could not be sent
within `GIVE_UP_AFTER`); while neither, it is tried again with exponential backoff, and only
the recipients that do not have it yet are tried.

Delivery runs in the process holding the `ops` lease (`ops.lease`), and that lease can lapse
during a slow send. So each mail is also **claimed** before it is sent: one conditional
UPDATE sets `claimed_by`/`claimed_until` only if no unexpired claim is there, and a claim
lasts longer than any one send can (`CLAIM_TIMEOUTS` SMTP timeouts). A runner re-checks
(and renews) its lease before each send and stops when it lost it. A database error is one
row's: logged, that row left claimed (so not resent at once), the batch goes on.

Each message keeps the Message-ID it was stored with, so if a crash (or a database that
refuses the `sent` write) falls between the server's acceptance and the commit, the one
resend, after the claim expires, carries the same id and the receiving side can drop it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any, Literal

from sqlalchemy import insert, or_, select, update
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from ops.database import as_utc, new_id, outbox, utcnow
from ops.mailer import Mailer, MailError, envelope_recipients, is_temporary

log = logging.getLogger(__name__)

BATCH = 20  # messages per delivery run: a long outage's backlog drains over a few runs
GIVE_UP_AFTER = timedelta(hours=24)  # an alert older than a day is news no more: dead
# A send is about ten exchanges (connect, EHLO, STARTTLS, EHLO, AUTH, MAIL, RCPT..., DATA,
# the message, QUIT), each given up after one SMTP timeout: a claim outlives any one send.
CLAIM_TIMEOUTS = 20
MARK_TRIES = 3  # writes of a send's outcome before the row is left to its claim's expiry

State = Literal["pending", "sent", "dead"]
Outcome = Literal["sent", "retry", "dead", "taken"]


def queue(connection: Connection, message: EmailMessage, alert_id: str | None = None) -> bool:
    """Store `message` for delivery; False if a message with its Message-ID is already
    stored (a digest two runners both built)."""
    now = utcnow()
    try:
        with connection.begin_nested():
            connection.execute(
                insert(outbox).values(
                    id=new_id(),
                    message_id=message["Message-ID"],
                    alert_id=alert_id,
                    subject=str(message["Subject"]),
                    message=message.as_bytes(policy=policy.SMTP),
                    created_at=now,
                    attempts=0,
                    next_attempt_at=now,
                )
            )
    except IntegrityError:
        return False
    return True


def backoff(attempts: int, max_backoff_s: float) -> timedelta:
    """1, 2, 4, ... seconds after the n-th failed try, at most `max_backoff_s`."""
    return timedelta(seconds=min(2.0 ** (attempts - 1), max_backoff_s))


def state(sent_at: datetime | None, dead_at: datetime | None) -> State:
    """A mail's delivery state from its row."""
    if sent_at is not None:
        return "sent"
    return "dead" if dead_at is not None else "pending"


def addresses(stored: str | None) -> list[str]:
    """A JSON list column (`delivered_to`, `refused_by`) as a list; NULL is empty."""
    return list(json.loads(stored)) if stored else []


@dataclass(frozen=True)
class Delivery:
    sent: int  # every recipient has it now
    failed: int  # tried again later
    dead: int  # given up
    database_errors: int = 0  # rows left to a later run


def deliver_due(
    engine: Engine,
    mailer: Mailer,
    recipients: list[str],
    max_backoff_s: float,
    *,
    runner: str,
    keep_lease: Callable[[], bool] = lambda: True,
    give_up_after: timedelta = GIVE_UP_AFTER,
    claim_s: float | None = None,
) -> Delivery:
    """Try every stored message whose time has come, one claimed by `runner` at a time,
    while `keep_lease()` (called before each send: it renews the lease) says the lease is
    still ours. A failure of the server or of the settings (not of one message) ends the
    run: the next messages would wait for the same timeout and fail the same way."""
    now = utcnow()
    claim = timedelta(seconds=claim_s if claim_s is not None else CLAIM_TIMEOUTS * mailer.timeout_s)
    with engine.connect() as connection:
        due: list[str] = list(
            connection.execute(
                select(outbox.c.id)
                .where(*_unclaimed_due(now))
                .order_by(outbox.c.created_at)
                .limit(BATCH)
            ).scalars()
        )
    counts = {"sent": 0, "retry": 0, "dead": 0, "taken": 0}
    errors = 0
    for row_id in due:
        try:
            ours = keep_lease()
        except SQLAlchemyError as database_error:  # unsure whose it is: send nothing more
            log.error("could not renew the outbox lease: %s", database_error)
            break
        if not ours:
            log.info("the outbox lease went to another process: it sends the rest")
            break
        try:
            outcome, error = _deliver_one(
                engine, mailer, row_id, recipients, max_backoff_s, runner, claim, give_up_after
            )
        except SQLAlchemyError as database_error:
            errors += 1
            log.error(
                "outbox row %s: database error (%s); a later run tries it again (once its "
                "claim expires, if it was claimed)",
                row_id,
                database_error,
            )
            continue
        counts[outcome] += 1
        if error is not None and not error.refused and error.kind != "rejected":
            break  # the server or our settings failed, not this message
    return Delivery(counts["sent"], counts["retry"], counts["dead"], errors)


def _unclaimed_due(now: datetime) -> list[Any]:
    return [
        outbox.c.sent_at.is_(None),
        outbox.c.dead_at.is_(None),
        outbox.c.next_attempt_at <= now,
        or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until < now),
    ]


def _deliver_one(
    engine: Engine,
    mailer: Mailer,
    row_id: str,
    recipients: list[str],
    max_backoff_s: float,
    runner: str,
    claim: timedelta,
    give_up_after: timedelta,
) -> tuple[Outcome, MailError | None]:
    """Claim the row, send to whoever does not have it yet, record who does now."""
    now = utcnow()
    with engine.begin() as connection:
        taken = connection.execute(
            update(outbox)
            .where(outbox.c.id == row_id, *_unclaimed_due(now))
            .values(claimed_by=runner, claimed_until=now + claim)
        ).rowcount
        if not taken:  # another runner claimed it, or finished it, since we looked
            return "taken", None
        row = connection.execute(select(outbox).where(outbox.c.id == row_id)).one()

    message = BytesParser(policy=policy.default).parsebytes(row.message)
    if not message["To"]:  # stored while no recipient was set: today's recipients
        message["To"] = ", ".join(recipients)
    delivered = addresses(row.delivered_to)
    refused = addresses(row.refused_by)
    pending = [a for a in envelope_recipients(message) if a not in delivered + refused]
    attempts = row.attempts + (1 if pending else 0)
    error: MailError | None = None
    message_refused = False
    if pending:
        try:
            mailer.send(message, pending)
        except MailError as failure:
            error = failure
            delivered += failure.delivered
            refused += [a for a, (code, _) in failure.refused.items() if not is_temporary(code)]
            # the server refused this message itself for good (its DATA or its sender, 5xx)
            message_refused = failure.kind == "rejected" and not (
                failure.refused or failure.retryable
            )
        else:
            delivered += pending
    left = [a for a in pending if a not in delivered + refused]
    values: dict[str, Any] = {
        "attempts": attempts,
        "last_error": str(error) if error is not None else None,
        "delivered_to": json.dumps(delivered),
        "refused_by": json.dumps(refused),
        "claimed_by": None,
        "claimed_until": None,
    }
    outcome: Outcome
    if not left and not refused and not message_refused:
        outcome, values["sent_at"] = "sent", utcnow()
        log.info("mail %s accepted by the server", message["Message-ID"])
    elif not left or message_refused:
        outcome, values["dead_at"] = "dead", utcnow()
        log.error("mail %s refused for good, not tried again: %s", message["Message-ID"], error)
    elif utcnow() - as_utc(row.created_at) >= give_up_after:
        outcome, values["dead_at"] = "dead", utcnow()
        values["last_error"] = f"gave up after {attempts} tries: {error}"
        log.error(
            "mail %s not sent in %s, given up: %s", message["Message-ID"], give_up_after, error
        )
    else:
        outcome, values["next_attempt_at"] = "retry", utcnow() + backoff(attempts, max_backoff_s)
        log.warning("mail %s not sent (try %d): %s", message["Message-ID"], attempts, error)
    _record(engine, row, runner, values)
    return outcome, error


def _record(engine: Engine, row: Row[Any], runner: str, values: dict[str, Any]) -> None:
    """Write a send's outcome, trying again a few times: the server has it now, and a
    write lost here means a resend once the claim expires."""
    for attempt in range(1, MARK_TRIES + 1):
        try:
            with engine.begin() as connection:
                kept = connection.execute(
                    update(outbox)
                    .where(outbox.c.id == row.id, outbox.c.claimed_by == runner)
                    .values(**values)
                ).rowcount
        except SQLAlchemyError:
            if attempt == MARK_TRIES:
                raise
            time.sleep(0.1 * attempt)
            continue
        if not kept:
            log.warning(
                "mail %s: our claim expired during the send and another runner took it over",
                row.message_id,
            )
        return
