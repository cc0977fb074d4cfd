"""The durable outbox: a mail is stored (in the same transaction as the alert it reports)
before anyone tries to send it, marked sent once the server accepted it, and tried again
with exponential backoff while the server is down or refuses it for now.

Each message keeps the Message-ID it was stored with, so if a crash falls between the
server's acceptance and the `sent_at` commit, the one resend carries the same id and the
receiving side can drop the duplicate. Delivery runs in one process at a time (`ops.lease`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from ops.database import new_id, outbox, utcnow
from ops.mailer import Mailer, MailError

log = logging.getLogger(__name__)

BATCH = 20  # messages per delivery run: a long outage's backlog drains over a few runs


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


@dataclass(frozen=True)
class Delivery:
    sent: int
    failed: int


def deliver_due(
    engine: Engine,
    mailer: Mailer,
    recipients: list[str],
    max_backoff_s: float,
    now: datetime | None = None,
) -> Delivery:
    """Try every stored message whose time has come; mark each sent or schedule its retry."""
    now = now or utcnow()
    with engine.connect() as connection:
        due = connection.execute(
            select(outbox.c.id, outbox.c.message, outbox.c.attempts)
            .where(outbox.c.sent_at.is_(None), outbox.c.next_attempt_at <= now)
            .order_by(outbox.c.created_at)
            .limit(BATCH)
        ).all()
    sent = failed = 0
    for row in due:
        message = BytesParser(policy=policy.default).parsebytes(row.message)
        if not message["To"]:  # stored while no recipient was set: today's recipients
            message["To"] = ", ".join(recipients)
        attempts = row.attempts + 1
        try:
            mailer.send(message)
        except MailError as error:
            failed += 1
            log.warning("mail %s not sent (try %d): %s", message["Message-ID"], attempts, error)
            values = {
                "attempts": attempts,
                "last_error": str(error),
                "next_attempt_at": utcnow() + backoff(attempts, max_backoff_s),
            }
        else:
            sent += 1
            log.info("mail %s accepted by the server", message["Message-ID"])
            values = {"attempts": attempts, "last_error": None, "sent_at": utcnow()}
        with engine.begin() as connection:
            connection.execute(update(outbox).where(outbox.c.id == row.id).values(**values))
    return Delivery(sent, failed)
