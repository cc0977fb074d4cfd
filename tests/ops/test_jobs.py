"""The daily digest and the retention clean-up, run by the jobs against a real SQLite file:
the digest is stored once a day whoever builds it, and old predictions go. And the report
renderer's process: replaced when it crashed, killed when it hangs."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.engine import Engine

from badbuzz.settings import AlertSettings, OpsSettings, RetentionSettings, SmtpSettings
from ops.database import connect, feedback, new_id, outbox, predictions, utcnow
from ops.digest import record_digest
from ops.jobs import OpsJobs, RenderFailed
from ops.latency import LatencyRecorder
from ops.outbox import queue
from ops.report import RenderedReport

CARD = {"name": "tweet-sentiment", "version": "7", "model_family": "logreg"}


@pytest.fixture
def settings(tmp_path: Path) -> OpsSettings:
    return OpsSettings(
        home=tmp_path,
        alert=AlertSettings(to=["oncall@airline.example"]),
        retention=RetentionSettings(days=2),
    )


@pytest.fixture
def engine(settings: OpsSettings) -> Engine:
    return connect(settings.resolved_database_url)


def predict(engine: Engine, label: str, age: timedelta) -> str:
    prediction_id = new_id()
    with engine.begin() as connection:
        connection.execute(
            insert(predictions).values(
                id=prediction_id,
                text="a tweet",
                label=label,
                probability_positive=0.9 if label == "positive" else 0.1,
                model_name="tweet-sentiment",
                model_version="7",
                created_at=utcnow() - age,
            )
        )
    return prediction_id


def test_the_digest_counts_the_day_and_is_stored_once(
    engine: Engine, settings: OpsSettings
) -> None:
    for label in ("negative", "negative", "negative", "positive"):
        predict(engine, label, timedelta(hours=2))
    predict(engine, "negative", timedelta(days=3))  # not the last day's
    with engine.begin() as connection:
        connection.execute(
            insert(feedback).values(
                id=new_id(),
                prediction_id=None,
                text="a tweet",
                predicted_label="negative",
                correct=False,
                model_version="7",
                created_at=utcnow() - timedelta(hours=1),
            )
        )
    now = utcnow()
    folder = record_digest(engine, now, CARD, settings)
    assert folder is not None and (folder / "report.txt").is_file()
    text = (folder / "report.txt").read_text()
    assert "Predictions:     4\n" in text  # the one of 3 days ago is not the day's
    assert "Negative share:  75.0%" in text
    # a second runner the same day: nothing more stored
    assert record_digest(engine, now, CARD, settings) is None
    with engine.connect() as connection:
        rows = connection.execute(select(outbox.c.message_id, outbox.c.message)).all()
    assert [row.message_id for row in rows] == [f"<digest-{now:%Y%m%d}@badbuzz>"]
    message = BytesParser(policy=policy.default).parsebytes(rows[0].message)
    assert message["To"] == "oncall@airline.example"


def test_retention_deletes_old_predictions_only(engine: Engine, settings: OpsSettings) -> None:
    kept = predict(engine, "negative", timedelta(days=1))
    predict(engine, "negative", timedelta(days=3))
    jobs = OpsJobs(settings, engine, lambda: CARD, LatencyRecorder("test"))
    jobs.clean_up()
    with engine.connect() as connection:
        left = connection.execute(select(predictions.c.id)).scalars().all()
        assert left == [kept]
        assert connection.execute(select(func.count()).select_from(outbox)).scalar_one() == 0


def test_two_deliveries_at_once_in_one_process_send_a_message_once(tmp_path: Path) -> None:
    """The outbox job and a rule that just fired both deliver, in two scheduler threads of
    the process that holds the lease: the due message still leaves once."""
    from tests.smtp import SmtpServer

    with SmtpServer() as server:
        env = server.env()
        settings = OpsSettings(
            home=tmp_path,
            smtp=SmtpSettings(
                host=env["BADBUZZ_SMTP_HOST"], port=int(env["BADBUZZ_SMTP_PORT"]), security="none"
            ),
            alert=AlertSettings(to=["oncall@airline.example"]),
        )
        engine = connect(settings.resolved_database_url)
        message = EmailMessage()
        message["From"] = settings.smtp.sender
        message["Subject"] = "one alert"
        message["Message-ID"] = "<alert-once@badbuzz>"
        message.set_content("one report")
        with engine.begin() as connection:
            assert queue(connection, message)
        jobs = OpsJobs(settings, engine, lambda: CARD, LatencyRecorder("test"))
        start = threading.Barrier(2)

        def deliver() -> None:
            start.wait()
            jobs.deliver()

        threads = [threading.Thread(target=deliver) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        server.wait_for(1)
        time.sleep(0.5)
        assert [str(r.message["Subject"]) for r in server.received] == ["one alert"]


# --- the renderer process: these run in it (spawned: they are imported by name) ---------


def renderer_pid(context: str) -> RenderedReport:
    return RenderedReport(subject=f"{context} {os.getpid()}", text="", html="", chart_png=None)


def crash(context: str) -> RenderedReport:
    os._exit(3)  # what a segfault in a chart library or the OOM killer leaves


def hang(context: str) -> RenderedReport:
    time.sleep(600)
    raise AssertionError("the renderer was not killed")


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture
def jobs(engine: Engine, settings: OpsSettings) -> Iterator[OpsJobs]:
    jobs = OpsJobs(settings, engine, lambda: CARD, LatencyRecorder("test"))
    yield jobs
    jobs._discard_renderer()  # the scheduler was never started: stop() is not for this


def render_pid(jobs: OpsJobs, label: str) -> int:
    subject = jobs.render(renderer_pid, label).subject  # type: ignore[arg-type]
    assert subject.startswith(f"{label} ")
    return int(subject.split()[-1])


def test_a_renderer_that_crashed_is_replaced_and_alerting_goes_on(jobs: OpsJobs) -> None:
    first = render_pid(jobs, "first")
    assert render_pid(jobs, "second") == first  # one process, kept between reports
    os.kill(first, signal.SIGKILL)  # dies between two reports
    replaced = render_pid(jobs, "after the kill")
    assert replaced != first
    with pytest.raises(RenderFailed, match="died twice"):
        jobs.render(crash, "a report that kills its renderer")  # type: ignore[arg-type]
    assert render_pid(jobs, "after the crash") not in (first, replaced)


def test_a_render_that_hangs_times_out_and_its_process_is_killed(jobs: OpsJobs) -> None:
    hung = render_pid(jobs, "warm")  # the first render starts the process: not timed here
    jobs.render_timeout_s = 1.0
    started = time.monotonic()
    with pytest.raises(RenderFailed, match="within 1 s"):
        jobs.render(hang, "a report that never ends")  # type: ignore[arg-type]
    assert time.monotonic() - started < 5
    deadline = time.monotonic() + 5
    while alive(hung):
        assert time.monotonic() < deadline, f"the hung renderer {hung} still runs"
        time.sleep(0.1)
    jobs.render_timeout_s = 60.0
    assert render_pid(jobs, "next") != hung
