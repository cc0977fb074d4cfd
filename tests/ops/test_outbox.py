"""The outbox against a real SMTP server (aiosmtpd) and a real database (SQLite, and
PostgreSQL when one runs on loopback): a mail refused for good is tried once and
dead-lettered, a recipient that has it is never mailed again, two runners whose lease lapses
mid-batch send each mail once, and one row's database error costs no other row."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import Engine, Row
from sqlalchemy.exc import OperationalError

from badbuzz.settings import AlertSettings, OpsSettings, SmtpSettings
from ops.database import as_utc, connect, outbox, utcnow
from ops.lease import Lease
from ops.mailer import Mailer
from ops.outbox import BATCH, addresses, deliver_due, queue, state
from tests.smtp import SmtpServer

OWNER, ONCALL = "owner@airline.example", "oncall@airline.example"
RECIPIENTS = [OWNER, ONCALL]
MAX_BACKOFF_S = 0.05  # retries are due again almost at once: the tests wait for them
NO_SUCH_USER = "550 5.1.1 no such user"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


class CountingMailer(Mailer):
    """A real Mailer that notes each send (Message-ID, envelope) and can be slow."""

    def __init__(self, server: SmtpServer, delay_s: float = 0.0, **settings: Any) -> None:
        smtp = SmtpSettings(
            **{"host": server.host, "port": server.port, "security": "none", "timeout_s": 5.0}
            | settings
        )
        ops = OpsSettings(_env_file=None, smtp=smtp, alert=AlertSettings(to=RECIPIENTS))  # type: ignore[call-arg]
        super().__init__(ops)
        self.delay_s = delay_s
        self.sends: list[tuple[str, list[str]]] = []

    def send(self, message: EmailMessage, recipients: Any = None) -> None:
        self.sends.append((str(message["Message-ID"]), list(recipients or [])))
        time.sleep(self.delay_s)
        super().send(message, recipients)


def mail(engine: Engine, name: str, to: list[str] | None = None) -> str:
    """Queue a mail named `name`; its Message-ID is returned."""
    message = EmailMessage()
    message["From"] = "badbuzz@airline.example"
    message["To"] = ", ".join(to or RECIPIENTS)
    message["Subject"] = name
    message["Message-ID"] = f"<{name}@badbuzz>"
    message.set_content(f"the report of {name}")
    with engine.begin() as connection:
        assert queue(connection, message)
    return str(message["Message-ID"])


def deliver(engine: Engine, mailer: Mailer, **options: Any) -> Any:
    return deliver_due(engine, mailer, RECIPIENTS, MAX_BACKOFF_S, runner="runner-a", **options)


def row(engine: Engine, message_id: str) -> Row[Any]:
    with engine.connect() as connection:
        return connection.execute(select(outbox).where(outbox.c.message_id == message_id)).one()


def received_ids(server: SmtpServer) -> list[str]:
    return [str(r.message["Message-ID"]) for r in server.received]


def test_a_mail_is_sent_once_and_recorded_for_every_recipient(
    engine: Engine, smtp: SmtpServer
) -> None:
    mailer = CountingMailer(smtp)
    sent = mail(engine, "alert-1")
    assert deliver(engine, mailer).sent == 1
    assert deliver(engine, mailer).sent == 0
    [received] = smtp.wait_for(1)
    assert received.recipients == RECIPIENTS
    stored = row(engine, sent)
    assert state(stored.sent_at, stored.dead_at) == "sent"
    assert addresses(stored.delivered_to) == RECIPIENTS
    assert stored.claimed_by is None and stored.attempts == 1


def test_recipients_refused_for_good_are_tried_once_and_dead_lettered(
    engine: Engine, smtp: SmtpServer
) -> None:
    smtp.refuse.update({OWNER: NO_SUCH_USER, ONCALL: NO_SUCH_USER})
    mailer = CountingMailer(smtp)
    dead = mail(engine, "alert-refused")
    assert deliver(engine, mailer).dead == 1
    for _ in range(3):  # later runs, past any backoff: nothing is tried again
        time.sleep(MAX_BACKOFF_S * 2)
        assert deliver(engine, mailer).dead == 0
    assert mailer.sends == [(dead, RECIPIENTS)]
    stored = row(engine, dead)
    assert state(stored.sent_at, stored.dead_at) == "dead"
    assert stored.attempts == 1
    assert addresses(stored.refused_by) == RECIPIENTS
    assert NO_SUCH_USER in stored.last_error
    assert smtp.received == []


def test_a_message_the_server_rejects_for_good_is_tried_once_and_dead_lettered(
    engine: Engine, smtp: SmtpServer
) -> None:
    smtp.refuse_data = "554 5.6.0 message content rejected"
    mailer = CountingMailer(smtp)
    dead = mail(engine, "alert-rejected")
    kept = mail(engine, "alert-next")  # one message's refusal does not stop the others
    assert deliver(engine, mailer).dead == 2
    time.sleep(MAX_BACKOFF_S * 2)
    assert deliver(engine, mailer).dead == 0
    assert [sent for sent, _ in mailer.sends] == [dead, kept]
    stored = row(engine, dead)
    assert state(stored.sent_at, stored.dead_at) == "dead"
    assert "554 5.6.0 message content rejected" in stored.last_error
    assert addresses(stored.delivered_to) == [] and addresses(stored.refused_by) == []


def test_one_refused_recipient_leaves_the_other_with_one_copy(
    engine: Engine, smtp: SmtpServer
) -> None:
    """The incident of issue 19: one alert to two recipients, one refused with a 550, gave
    the other six copies in a minute."""
    smtp.refuse[ONCALL] = NO_SUCH_USER
    mailer = CountingMailer(smtp)
    dead = mail(engine, "alert-partly")
    deliver(engine, mailer)
    for _ in range(5):
        time.sleep(MAX_BACKOFF_S * 2)
        deliver(engine, mailer)
    [received] = smtp.wait_for(1)
    assert received.recipients == [OWNER]
    assert len(mailer.sends) == 1
    stored = row(engine, dead)
    assert state(stored.sent_at, stored.dead_at) == "dead"
    assert addresses(stored.delivered_to) == [OWNER]
    assert addresses(stored.refused_by) == [ONCALL]


def test_a_recipient_refused_for_now_is_retried_alone(engine: Engine, smtp: SmtpServer) -> None:
    smtp.refuse[ONCALL] = "452 4.2.2 mailbox full"
    mailer = CountingMailer(smtp)
    later = mail(engine, "alert-mailbox-full")
    first = deliver(engine, mailer)
    assert (first.sent, first.failed) == (0, 1)
    stored = row(engine, later)
    assert state(stored.sent_at, stored.dead_at) == "pending"
    assert addresses(stored.delivered_to) == [OWNER]
    smtp.refuse.clear()  # the mailbox has room again
    time.sleep(MAX_BACKOFF_S * 2)
    assert deliver(engine, mailer).sent == 1
    first_copy, second_copy = smtp.wait_for(2)
    assert first_copy.recipients == [OWNER]
    assert second_copy.recipients == [ONCALL]  # the owner is not mailed again
    stored = row(engine, later)
    assert state(stored.sent_at, stored.dead_at) == "sent"
    assert addresses(stored.delivered_to) == [OWNER, ONCALL] and stored.attempts == 2


def test_a_server_down_past_the_give_up_age_dead_letters_the_mail(
    engine: Engine, smtp: SmtpServer
) -> None:
    smtp.stop()
    mailer = CountingMailer(smtp)
    waiting = mail(engine, "alert-waiting")
    assert deliver(engine, mailer).failed == 1  # retryable: it waits
    stored = row(engine, waiting)
    assert state(stored.sent_at, stored.dead_at) == "pending"
    time.sleep(MAX_BACKOFF_S * 2)
    assert deliver(engine, mailer, give_up_after=timedelta(0)).dead == 1
    stored = row(engine, waiting)
    assert state(stored.sent_at, stored.dead_at) == "dead"
    assert stored.last_error.startswith("gave up after 2 tries: nothing accepts connections")


def test_a_failure_of_the_settings_waits_and_ends_the_run(engine: Engine) -> None:
    """A wrong password is not the mail's fault: the mail waits for the fixed settings (up
    to the give-up age), and the next mails are not each refused the same way."""
    with SmtpServer(user="alerts", password="s3cret") as server:
        mailer = CountingMailer(server, user="alerts", password="wrong")
        first = mail(engine, "alert-first")
        mail(engine, "alert-second")
        delivery = deliver(engine, mailer)
        assert (delivery.failed, delivery.dead) == (1, 0)
        assert [sent for sent, _ in mailer.sends] == [first]
        fixed = CountingMailer(server, user="alerts", password="s3cret")
        time.sleep(MAX_BACKOFF_S * 2)
        assert deliver(engine, fixed).sent == 2
        assert sorted(received_ids(server)) == ["<alert-first@badbuzz>", "<alert-second@badbuzz>"]


def test_a_runner_that_lost_the_lease_sends_nothing_more(engine: Engine, smtp: SmtpServer) -> None:
    mailer = CountingMailer(smtp)
    for n in range(3):
        mail(engine, f"alert-{n}")
    checks = iter([True, False, False])
    assert deliver(engine, mailer, keep_lease=lambda: next(checks)).sent == 1
    assert received_ids(smtp) == ["<alert-0@badbuzz>"]


def test_a_lease_that_cannot_be_renewed_stops_the_run_quietly(
    engine: Engine, smtp: SmtpServer
) -> None:
    mailer = CountingMailer(smtp)
    mail(engine, "alert-0")

    def database_gone() -> bool:
        raise OperationalError("UPDATE leases", {}, Exception("server closed the connection"))

    assert deliver(engine, mailer, keep_lease=database_gone).sent == 0
    assert mailer.sends == []


def test_two_runners_whose_lease_lapses_mid_batch_send_each_mail_once(
    database_url: str, smtp: SmtpServer
) -> None:
    """Each runner has its own engine and holder; a send (0.4 s) outlasts the lease
    (0.25 s), so the lease changes hands within a batch, as a 10 s SMTP timeout outlasts
    the real 10 s lease."""
    count = 8
    setup = connect(database_url)
    for n in range(count):
        mail(setup, f"alert-{n}")
    setup.dispose()
    mailers = {name: CountingMailer(smtp, delay_s=0.4) for name in ("runner-a", "runner-b")}
    failures: list[BaseException] = []
    start = threading.Barrier(2)

    def run(name: str) -> None:
        engine = connect(database_url)
        lease = Lease(engine, "ops", ttl_s=0.25, holder=name)
        deadline = time.monotonic() + 30
        start.wait()
        try:
            while len(smtp.received) < count and time.monotonic() < deadline:
                if lease.acquire():
                    deliver_due(
                        engine,
                        mailers[name],
                        RECIPIENTS,
                        MAX_BACKOFF_S,
                        runner=name,
                        keep_lease=lease.acquire,
                    )
                time.sleep(0.02)
        except BaseException as error:  # collected, then asserted
            failures.append(error)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=run, args=(name,)) for name in mailers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    time.sleep(0.5)  # a duplicate on its way would have arrived
    ids = received_ids(smtp)
    assert sorted(ids) == sorted(f"<alert-{n}@badbuzz>" for n in range(count)), ids
    # the lease did change hands mid-batch: both runners sent some
    assert all(mailer.sends for mailer in mailers.values()), {
        name: len(mailer.sends) for name, mailer in mailers.items()
    }
    check = connect(database_url)
    with check.connect() as connection:
        rows = connection.execute(select(outbox.c.sent_at, outbox.c.claimed_by)).all()
    check.dispose()
    assert all(r.sent_at is not None and r.claimed_by is None for r in rows)


def test_a_database_error_on_one_row_neither_stops_the_batch_nor_resends_it(
    engine: Engine, smtp: SmtpServer
) -> None:
    mailer = CountingMailer(smtp)
    ids = [mail(engine, f"alert-{n}") for n in range(3)]
    with engine.connect() as connection:
        broken_row = connection.execute(
            select(outbox.c.id).where(outbox.c.message_id == ids[1])
        ).scalar_one()

    def refuse_to_mark_sent(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        values = parameters.values() if isinstance(parameters, dict) else parameters
        # the write of the send's outcome (SET ... sent_at=), not the claim (sent_at IS NULL)
        outcome = statement.startswith("UPDATE outbox") and re.search(r"sent_at\s*=", statement)
        if outcome and broken_row in values:
            raise OperationalError(statement, parameters, Exception("disk I/O error"))

    event.listen(engine, "before_cursor_execute", refuse_to_mark_sent)
    delivery = deliver(engine, mailer, claim_s=5.0)  # ample on a busy machine
    assert (delivery.sent, delivery.database_errors) == (2, 1)
    assert sorted(received_ids(smtp)) == sorted(ids)  # the batch went on after the error
    event.remove(engine, "before_cursor_execute", refuse_to_mark_sent)

    # the row stays claimed: the next runs do not send it again at once
    assert deliver(engine, mailer).sent == 0
    assert len(smtp.received) == 3
    # once the claim expires, the mail the database lost track of goes once more, with
    # the same Message-ID (the receiver can drop it); the others never again
    claimed_until = as_utc(row(engine, ids[1]).claimed_until)
    time.sleep(max(0.0, (claimed_until - utcnow()).total_seconds()) + 0.1)
    assert deliver(engine, mailer).sent == 1
    assert sorted(received_ids(smtp)) == sorted([*ids, ids[1]])
    assert state(row(engine, ids[1]).sent_at, None) == "sent"


def test_a_batch_is_bounded(engine: Engine, smtp: SmtpServer) -> None:
    mailer = CountingMailer(smtp)
    for n in range(BATCH + 3):
        mail(engine, f"alert-{n:02d}")
    assert deliver(engine, mailer).sent == BATCH
    assert deliver(engine, mailer).sent == 3
