"""The hourly cap of alert mails (BADBUZZ_ALERT_MAILS_PER_HOUR) against a real SMTP server
(aiosmtpd) and a real database (SQLite, and PostgreSQL when one runs on loopback): a burst
over the cap sends the cap's worth, holds the rest, and lists them in one summary mail once
the hour rolls; nothing is lost across restarts, and two runners send the cap's worth and
one summary. The outbox's clock is moved on instead of waiting an hour."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from badbuzz.settings import AlertSettings, OpsSettings, SmtpSettings
from ops import outbox as outbox_module
from ops.alerts import recent_alerts, store_alert
from ops.database import connect, new_id, outbox, utcnow
from ops.jobs import OpsJobs
from ops.latency import LatencyRecorder
from ops.mail_cap import free_slot
from ops.mailer import Mailer
from ops.outbox import Delivery, deliver_due
from ops.report import RenderedReport
from ops.rules import Firing
from tests.ops.test_outbox import MAX_BACKOFF_S, RECIPIENTS, CountingMailer, mail, received_ids
from tests.smtp import SmtpServer

CAP = 10
BURST = 25
HOUR_ROLLED = timedelta(hours=1, seconds=1)  # the first slot of the burst is free again
TRY_LATER = "451 4.3.0 try again later"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


class Clock:
    """The outbox's time: the real one, moved on by `offset`."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return utcnow() + self.offset


@dataclass(frozen=True)
class StoredAlert:
    id: str
    summary: str  # unique in the burst: "bad buzz #07 on Brand07"
    report_path: str

    @property
    def message_id(self) -> str:
        return f"<alert-{self.id}@badbuzz>"


def burst(engine: Engine, settings: OpsSettings, count: int = BURST) -> list[StoredAlert]:
    """`count` buzz alerts, each stored with its report and mail as the watch stores one."""
    stored = []
    end = utcnow()
    for n in range(count):
        firing = Firing(
            rule="buzz",
            window_start=end - timedelta(hours=1),
            window_end=end,
            observed=40 + n,
            threshold=20,
            summary=f"bad buzz #{n:02d} on Brand{n:02d}",
            brand=f"Brand{n:02d}",
        )
        rendered = RenderedReport(
            subject=f"[badbuzz] {firing.summary}",
            text=f"{firing.summary}\n",
            html=f"<p>{firing.summary}</p>",
            chart_png=None,
        )
        alert_id = new_id()
        folder = store_alert(engine, firing, alert_id, {"version": "7"}, settings, rendered)
        stored.append(StoredAlert(alert_id, firing.summary, str(folder)))
    return stored


def settings_for(tmp_path: Path) -> OpsSettings:
    return OpsSettings(  # type: ignore[call-arg]
        _env_file=None,
        home=tmp_path,
        smtp=SmtpSettings(sender="badbuzz@airline.example"),
        alert=AlertSettings(to=RECIPIENTS, mails_per_hour=CAP),
    )


def deliver(
    engine: Engine, mailer: Mailer, clock: Clock, runner: str = "runner-a", **options: Any
) -> Delivery:
    return deliver_due(
        engine,
        mailer,
        RECIPIENTS,
        MAX_BACKOFF_S,
        runner=runner,
        mails_per_hour=CAP,
        clock=clock,
        **options,
    )


def deliver_until_quiet(engine: Engine, mailer: Mailer, clock: Clock) -> tuple[int, int]:
    """Delivery runs (a run takes at most BATCH mails) until one does nothing: (sent, held)."""
    sent = held = 0
    for _ in range(BURST):  # far more runs than a burst needs
        delivery = deliver(engine, mailer, clock)
        if delivery == Delivery(0, 0, 0, 0, 0):
            return sent, held
        sent, held = sent + delivery.sent, held + delivery.held
    raise AssertionError(f"every delivery run still does something: {sent} sent, {held} held")


def summaries(server: SmtpServer) -> list[EmailMessage]:
    return [r.message for r in server.received if str(r.message["Message-ID"]).startswith("<held-")]


def listed(summary: EmailMessage, alerts: list[StoredAlert]) -> list[StoredAlert]:
    """The alerts the summary's text names (summary line and report folder)."""
    body = summary.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    return [a for a in alerts if a.summary in text and a.report_path in text]


def mail_states(engine: Engine) -> dict[str, str]:
    with engine.connect() as connection:
        return {a.id: a.mail_state for a in recent_alerts(connection, 100)}


def check_the_burst_was_capped(
    server: SmtpServer, alerts: list[StoredAlert]
) -> tuple[list[StoredAlert], list[StoredAlert]]:
    """The cap's worth of alert mails arrived, each an alert's, each once: (sent, held)."""
    ids = received_ids(server)
    assert len(ids) == CAP, ids
    assert len(set(ids)) == CAP
    sent = [a for a in alerts if a.message_id in ids]
    assert len(sent) == CAP  # each received mail is one of the burst's
    return sent, [a for a in alerts if a not in sent]


def test_a_burst_over_the_cap_sends_the_cap_then_one_summary_of_the_rest(
    engine: Engine, smtp: SmtpServer, tmp_path: Path
) -> None:
    alerts = burst(engine, settings_for(tmp_path))
    mailer, clock = CountingMailer(smtp), Clock()

    assert deliver_until_quiet(engine, mailer, clock) == (CAP, BURST - CAP)
    sent, held = check_the_burst_was_capped(smtp, alerts)
    states = mail_states(engine)
    assert {states[a.id] for a in sent} == {"sent"}
    assert {states[a.id] for a in held} == {"held"}

    clock.offset = timedelta(minutes=59)  # the hour has not rolled: nothing more leaves
    assert deliver_until_quiet(engine, mailer, clock) == (0, 0)
    assert len(smtp.received) == CAP

    clock.offset = HOUR_ROLLED
    assert deliver_until_quiet(engine, mailer, clock) == (1, 0)
    [summary] = summaries(smtp)
    assert len(smtp.received) == CAP + 1
    assert listed(summary, alerts) == held  # the 15 held, oldest first, and none sent
    assert f"{BURST - CAP} alert mails held back" in str(summary["Subject"])
    assert smtp.received[-1].recipients == RECIPIENTS
    states = mail_states(engine)
    assert {states[a.id] for a in held} == {"summarised"}
    assert {states[a.id] for a in sent} == {"sent"}

    clock.offset = 3 * HOUR_ROLLED  # later runs: nothing is listed or sent again
    assert deliver_until_quiet(engine, mailer, clock) == (0, 0)
    assert len(smtp.received) == CAP + 1
    with engine.connect() as connection:
        listed_in: list[str] = list(
            connection.execute(
                select(outbox.c.summarised_in).where(outbox.c.held_at.is_not(None))
            ).scalars()
        )
        summary_rows = connection.execute(
            select(outbox.c.id, outbox.c.message_id).where(outbox.c.held_summary.is_(True))
        ).all()
    [(summary_row, summary_id)] = summary_rows
    assert summary_id == str(summary["Message-ID"])
    assert sorted(listed_in) == [summary_row] * (BURST - CAP)


def test_new_alerts_after_the_summary_take_the_free_slots_one_by_one(
    engine: Engine, smtp: SmtpServer, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path)
    burst(engine, settings, CAP + 1)
    mailer, clock = CountingMailer(smtp), Clock()
    assert deliver_until_quiet(engine, mailer, clock) == (CAP, 1)
    clock.offset = HOUR_ROLLED
    later = burst(engine, settings, 2)  # the summary goes first, then these, alone
    assert deliver_until_quiet(engine, mailer, clock) == (3, 0)
    ids = received_ids(smtp)
    assert ids[CAP].startswith("<held-")
    assert ids[CAP + 1 :] == [a.message_id for a in later]


def test_the_digest_is_not_counted_nor_held(
    engine: Engine, smtp: SmtpServer, tmp_path: Path
) -> None:
    burst(engine, settings_for(tmp_path), CAP + 1)
    mailer, clock = CountingMailer(smtp), Clock()
    assert deliver_until_quiet(engine, mailer, clock) == (CAP, 1)
    digest = mail(engine, "digest-20261204")  # no alert id: the daily digest
    assert deliver_until_quiet(engine, mailer, clock) == (1, 0)
    assert received_ids(smtp)[-1] == digest


def test_held_mails_survive_restarts_and_their_summary_is_sent_once(
    database_url: str, smtp: SmtpServer, tmp_path: Path
) -> None:
    settings, clock = settings_for(tmp_path), Clock()
    first = connect(database_url)
    alerts = burst(first, settings)
    deliver_until_quiet(first, CountingMailer(smtp), clock)
    first.dispose()
    _, held = check_the_burst_was_capped(smtp, alerts)

    # a restart; the hour rolls while the server refuses for now: the summary is stored,
    # tried, and waits
    second = connect(database_url)
    smtp.refuse.update(dict.fromkeys(RECIPIENTS, TRY_LATER))
    clock.offset = HOUR_ROLLED
    delivery = deliver(second, CountingMailer(smtp), clock)
    assert (delivery.sent, delivery.failed) == (0, 1)
    assert {mail_states(second)[a.id] for a in held} == {"summarised"}
    second.dispose()

    # another restart, the server takes mail again: the summary leaves once, whole
    third = connect(database_url)
    smtp.refuse.clear()
    time.sleep(MAX_BACKOFF_S * 2)
    mailer = CountingMailer(smtp)
    assert deliver_until_quiet(third, mailer, clock) == (1, 0)
    clock.offset = 3 * HOUR_ROLLED
    assert deliver_until_quiet(third, mailer, clock) == (0, 0)
    [summary] = summaries(smtp)
    assert listed(summary, alerts) == held
    assert len(smtp.received) == CAP + 1
    with third.connect() as connection:
        assert (
            connection.execute(
                select(func.count()).where(outbox.c.held_summary.is_(True))
            ).scalar_one()
            == 1
        )
    third.dispose()


def run_together(database_url: str, work: Any, runners: int = 2) -> None:
    """`work(engine, name)` in `runners` threads at once, each with its own engine, as two
    processes whose lease changed hands would."""
    failures: list[BaseException] = []
    start = threading.Barrier(runners)

    def run(name: str) -> None:
        engine = connect(database_url)
        try:
            start.wait()
            work(engine, name)
        except BaseException as error:  # collected, then asserted
            failures.append(error)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=run, args=(f"runner-{n}",)) for n in range(runners)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_two_runners_send_the_cap_and_one_summary(
    database_url: str, smtp: SmtpServer, tmp_path: Path
) -> None:
    """The worst case a lapsed lease allows: two runners that both believe they hold it
    deliver at once, in the burst and again when the hour rolls."""
    setup = connect(database_url)
    alerts = burst(setup, settings_for(tmp_path))
    setup.dispose()
    clock = Clock()
    mailers = {f"runner-{n}": CountingMailer(smtp, delay_s=0.05) for n in range(2)}

    def deliver_runs(engine: Engine, name: str) -> None:
        for _ in range(4):
            deliver(engine, mailers[name], clock, runner=name)

    run_together(database_url, deliver_runs)
    time.sleep(0.5)  # a mail over the cap on its way would have arrived
    _, held = check_the_burst_was_capped(smtp, alerts)

    clock.offset = HOUR_ROLLED
    run_together(database_url, deliver_runs)
    time.sleep(0.5)
    [summary] = summaries(smtp)
    assert listed(summary, alerts) == held
    assert len(smtp.received) == CAP + 1


def test_two_runners_that_see_the_same_free_slot_send_one_mail(
    database_url: str, smtp: SmtpServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two runners each claim a different alert mail, and both read the hour's last slot
    as free before either writes it: the database lets one of them take it."""
    setup = connect(database_url)
    alerts = burst(setup, settings_for(tmp_path), 2)
    with setup.connect() as connection:
        stored = connection.execute(select(outbox.c.message_id, outbox.c.id))
        rows = {row.message_id: row.id for row in stored}
    setup.dispose()
    both_looked = threading.Barrier(2, timeout=10)

    def free_slot_seen_by_both(*args: Any) -> int | None:
        slot = free_slot(*args)
        both_looked.wait()
        return slot

    monkeypatch.setattr(outbox_module, "free_slot", free_slot_seen_by_both)
    outcomes: dict[str, str] = {}

    def claim_and_send(engine: Engine, name: str) -> None:
        alert = alerts[int(name.removeprefix("runner-"))]
        outcome, _ = outbox_module._deliver_one(
            engine,
            CountingMailer(smtp),
            rows[alert.message_id],
            RECIPIENTS,
            MAX_BACKOFF_S,
            name,
            timedelta(seconds=30),
            outbox_module.GIVE_UP_AFTER,
            mails_per_hour=1,
        )
        outcomes[alert.message_id] = outcome

    run_together(database_url, claim_and_send)
    assert sorted(outcomes.values()) == ["sent", "taken"]
    time.sleep(0.5)
    assert len(smtp.received) == 1


def test_the_jobs_deliver_under_the_cap_of_the_settings(smtp: SmtpServer, tmp_path: Path) -> None:
    settings = OpsSettings(  # type: ignore[call-arg]
        _env_file=None,
        home=tmp_path,
        smtp=SmtpSettings(host=smtp.host, port=smtp.port, security="none"),
        alert=AlertSettings(to=RECIPIENTS, mails_per_hour=2),
    )
    engine = connect(settings.resolved_database_url)
    alerts = burst(engine, settings, 3)
    jobs = OpsJobs(settings, engine, dict, LatencyRecorder("test"))
    jobs.deliver()
    jobs.deliver()
    time.sleep(0.3)
    assert len(smtp.received) == 2
    states = mail_states(engine)
    assert sorted(states[a.id] for a in alerts) == ["held", "sent", "sent"]
    engine.dispose()
