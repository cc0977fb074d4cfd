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

With `mails_per_hour` (BADBUZZ_ALERT_MAILS_PER_HOUR), alert mails also take a slot of the
hourly budget as they are claimed, the surplus is held, and the held ones go out listed in
one summary mail once a slot is free (`ops.mail_cap`).

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

from sqlalchemy import case, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from ops.database import as_utc, new_id, outbox, utcnow
from ops.mail_cap import counted, free_slot, held_summary
from ops.mailer import Mailer, MailError, envelope_recipients, is_temporary

log = logging.getLogger(__name__)

BATCH = 20  # messages per delivery run: a long outage's backlog drains over a few runs
GIVE_UP_AFTER = timedelta(hours=24)  # an alert older than a day is news no more: dead
# A send is about ten exchanges (connect, EHLO, STARTTLS, EHLO, AUTH, MAIL, RCPT..., DATA,
# the message, QUIT), each given up after one SMTP timeout: a claim outlives any one send.
CLAIM_TIMEOUTS = 20
MARK_TRIES = 3  # writes of a send's outcome before the row is left to its claim's expiry

# held: over the hourly cap, waiting for the summary; summarised: listed in a summary mail
State = Literal["pending", "sent", "dead", "held", "summarised"]
# waiting: a summary that found no free slot yet
Outcome = Literal["sent", "retry", "dead", "taken", "held", "waiting"]


def queue(
    connection: Connection,
    message: EmailMessage,
    alert_id: str | None = None,
    *,
    row_id: str | None = None,
    summary_of_held: bool = False,
    now: datetime | None = None,
) -> bool:
    """Store `message` for delivery; False if a message with its Message-ID is already
    stored (a digest, or a summary of held mails, two runners both built)."""
    now = now or utcnow()
    try:
        with connection.begin_nested():
            connection.execute(
                insert(outbox).values(
                    id=row_id or new_id(),
                    message_id=message["Message-ID"],
                    alert_id=alert_id,
                    subject=str(message["Subject"]),
                    message=message.as_bytes(policy=policy.SMTP),
                    created_at=now,
                    attempts=0,
                    next_attempt_at=now,
                    held_summary=summary_of_held or None,
                )
            )
    except IntegrityError:
        return False
    return True


def backoff(attempts: int, max_backoff_s: float) -> timedelta:
    """1, 2, 4, ... seconds after the n-th failed try, at most `max_backoff_s`."""
    return timedelta(seconds=min(2.0 ** (attempts - 1), max_backoff_s))


def state(
    sent_at: datetime | None, dead_at: datetime | None, held_at: datetime | None = None
) -> State:
    """A mail's delivery state from its row (a held one's summary says the rest)."""
    if sent_at is not None:
        return "sent"
    if dead_at is not None:
        return "dead"
    return "held" if held_at is not None else "pending"


def addresses(stored: str | None) -> list[str]:
    """A JSON list column (`delivered_to`, `refused_by`) as a list; NULL is empty."""
    return list(json.loads(stored)) if stored else []


@dataclass(frozen=True)
class Delivery:
    sent: int  # every recipient has it now
    failed: int  # tried again later
    dead: int  # given up
    database_errors: int = 0  # rows left to a later run
    held: int = 0  # over the hourly cap: listed in the next summary mail


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
    mails_per_hour: int | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> Delivery:
    """Try every stored message whose time has come, one claimed by `runner` at a time,
    while `keep_lease()` (called before each send: it renews the lease) says the lease is
    still ours. A failure of the server or of the settings (not of one message) ends the
    run: the next messages would wait for the same timeout and fail the same way.

    With `mails_per_hour`, alert mails over the hourly cap are held, and held mails are
    first listed in a summary, which goes before any other mail. `clock` is the time the
    outbox goes by (tests move it on an hour)."""
    claim = timedelta(seconds=claim_s if claim_s is not None else CLAIM_TIMEOUTS * mailer.timeout_s)
    if mails_per_hour is not None:
        try:
            if keep_lease():  # the summary is stored under the lease, as it is sent
                _summarise_held(engine, mails_per_hour, clock())
        except SQLAlchemyError as database_error:  # the held rows stay held: a later run
            log.error("could not store the summary of held alert mails: %s", database_error)
    now = clock()
    with engine.connect() as connection:
        due: list[str] = list(
            connection.execute(
                select(outbox.c.id)
                .where(*_unclaimed_due(now))
                .order_by(case((outbox.c.held_summary.is_(True), 0), else_=1), outbox.c.created_at)
                .limit(BATCH)
            ).scalars()
        )
    counts = {"sent": 0, "retry": 0, "dead": 0, "taken": 0, "held": 0, "waiting": 0}
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
                engine,
                mailer,
                row_id,
                recipients,
                max_backoff_s,
                runner,
                claim,
                give_up_after,
                mails_per_hour,
                clock,
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
    return Delivery(counts["sent"], counts["retry"], counts["dead"], errors, counts["held"])


def _summarise_held(engine: Engine, mails_per_hour: int, now: datetime) -> None:
    """Once a slot is free, store the one mail that lists the held mails, and mark them
    listed in it, in one transaction; nothing when a summary of them is stored already."""
    with engine.connect() as connection:
        if free_slot(connection, mails_per_hour, now) is None:
            return
        summary = held_summary(connection, mails_per_hour, now)
    if summary is None:
        return
    summary_id = new_id()
    with engine.connect() as connection, connection.begin() as transaction:
        if not queue(connection, summary.message, row_id=summary_id, summary_of_held=True, now=now):
            return  # another runner stored this summary
        listed = connection.execute(
            update(outbox)
            .where(outbox.c.id.in_(summary.row_ids), outbox.c.summarised_in.is_(None))
            .values(summarised_in=summary_id)
        ).rowcount
        if listed != len(summary.row_ids):  # another runner's summary lists some of them
            transaction.rollback()
            return
    log.warning(
        "%d held alert mails listed in the summary %s",
        len(summary.row_ids),
        summary.message["Message-ID"],
    )


def _unclaimed_due(now: datetime) -> list[Any]:
    return [
        outbox.c.sent_at.is_(None),
        outbox.c.dead_at.is_(None),
        outbox.c.held_at.is_(None),
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
    mails_per_hour: int | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> tuple[Outcome, MailError | None]:
    """Claim the row (an alert's first send with a slot of the hourly budget, or held when
    none is free), send to whoever does not have it yet, record who does now."""
    try:
        claimed = _claim(engine, row_id, runner, claim, mails_per_hour, clock())
    except IntegrityError:  # another runner took the same slot at the same moment
        return "taken", None
    if isinstance(claimed, str):
        return claimed, None
    row = claimed

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
        outcome, values["sent_at"] = "sent", clock()
        log.info("mail %s accepted by the server", message["Message-ID"])
    elif not left or message_refused:
        outcome, values["dead_at"] = "dead", clock()
        log.error("mail %s refused for good, not tried again: %s", message["Message-ID"], error)
    elif clock() - as_utc(row.created_at) >= give_up_after:
        outcome, values["dead_at"] = "dead", clock()
        values["last_error"] = f"gave up after {attempts} tries: {error}"
        log.error(
            "mail %s not sent in %s, given up: %s", message["Message-ID"], give_up_after, error
        )
    else:
        outcome, values["next_attempt_at"] = "retry", clock() + backoff(attempts, max_backoff_s)
        log.warning("mail %s not sent (try %d): %s", message["Message-ID"], attempts, error)
    _record(engine, row, runner, values)
    return outcome, error


def _claim(
    engine: Engine,
    row_id: str,
    runner: str,
    claim: timedelta,
    mails_per_hour: int | None,
    now: datetime,
) -> Row[Any] | Literal["taken", "held", "waiting"]:
    """Claim the row for `runner`; the claimed row, or why not. An alert's mail (or a
    summary) never tried before takes the next slot of the budget with its claim; with none
    free, an alert's mail is held and a summary waits."""
    with engine.begin() as connection:
        row = connection.execute(
            select(outbox).where(outbox.c.id == row_id, *_unclaimed_due(now))
        ).one_or_none()
        if row is None:  # another runner claimed it, or finished it, since we looked
            return "taken"
        where = [outbox.c.id == row_id, *_unclaimed_due(now)]
        values: dict[str, Any] = {"claimed_by": runner, "claimed_until": now + claim}
        # a mail tried before it had to take a slot (a database from before the cap) goes on
        first_try = row.budget_slot is None and row.attempts == 0
        if mails_per_hour is not None and first_try and counted(row):
            where.append(outbox.c.budget_slot.is_(None))
            slot = free_slot(connection, mails_per_hour, now)
            if slot is None and row.held_summary:
                return "waiting"
            if slot is None:
                held = connection.execute(update(outbox).where(*where).values(held_at=now))
                if not held.rowcount:
                    return "taken"
                log.warning(
                    "mail %s held back: %d alert mails went out in the last hour "
                    "(BADBUZZ_ALERT_MAILS_PER_HOUR); the next summary mail lists it",
                    row.message_id,
                    mails_per_hour,
                )
                return "held"
            values |= {"budget_slot": slot, "budget_at": now}
        if not connection.execute(update(outbox).where(*where).values(**values)).rowcount:
            return "taken"
        claimed: Row[Any] = connection.execute(select(outbox).where(outbox.c.id == row_id)).one()
        return claimed


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
