"""The scheduled retrain (BADBUZZ_RETRAIN_CRON) against a real SQLite file, with real child
processes: small Python programs that answer as `badbuzz retrain` does (its outcome file,
its `error:` line and exit codes, a hang). One real retrain runs in
tests/integration/test_scheduled_retrain.py."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import insert, select
from sqlalchemy.engine import Engine

from badbuzz.settings import AlertSettings, OpsSettings, RetrainSettings
from ops import scheduled_retrain
from ops.database import connect, new_id, outbox, retrain_runs, utcnow
from ops.digest import record_digest
from ops.jobs import OpsJobs
from ops.latency import LatencyRecorder
from ops.scheduled_retrain import ScheduledRetrain
from tests.badbuzz_cli import run_badbuzz

CARD = {"name": "tweet-sentiment", "version": "4", "model_family": "logreg"}
NIGHTLY = "0 3 * * *"
PROMOTED = {
    "outcome": "promoted",
    "reason": "promoted: accuracy +0.074 (+0.053 to +0.095) on the latest 895 verdicts",
    "champion_version": "4",
    "new_version": "5",
}


@pytest.fixture
def settings(tmp_path: Path) -> OpsSettings:
    (tmp_path / "home").mkdir()
    return OpsSettings(
        home=tmp_path / "home",
        retrain=RetrainSettings(cron=NIGHTLY),
        alert=AlertSettings(to=["ops@example"]),
    )


@pytest.fixture
def engine(settings: OpsSettings) -> Engine:
    return connect(settings.resolved_database_url)


def fake_retrain(tmp_path: Path, body: str) -> list[str]:
    """A program called as `badbuzz retrain` is by the job: it notes its arguments and pid
    in `calls.jsonl` (one line per run), then runs `body` with `outcome_file` (the path the
    job asked for) and `write(outcome)` defined."""
    calls = tmp_path / "calls.jsonl"
    script = tmp_path / f"retrain_{len(list(tmp_path.glob('retrain_*.py')))}.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import json, os, sys, time
            args = sys.argv[1:]
            outcome_file = args[args.index("--outcome-file") + 1]
            with open({str(calls)!r}, "a") as calls:
                calls.write(json.dumps({{"args": args, "pid": os.getpid()}}) + "\\n")
            def write(outcome):
                with open(outcome_file, "w") as out:
                    json.dump(outcome, out)
            """
        )
        + textwrap.dedent(body)
    )
    return [sys.executable, str(script)]


def calls(tmp_path: Path) -> list[dict[str, object]]:
    path = tmp_path / "calls.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def rows(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as connection:
        found = connection.execute(select(retrain_runs).order_by(retrain_runs.c.started_at))
        return [dict(row._mapping) for row in found]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# -- the setting --------------------------------------------------------------------------


def test_without_the_setting_no_retrain_job_is_scheduled(tmp_path: Path) -> None:
    settings = OpsSettings(home=tmp_path)
    jobs = OpsJobs(settings, connect(settings.resolved_database_url), dict, LatencyRecorder("t"))
    jobs.start()
    try:
        assert jobs.retrain is None
        assert jobs.scheduler.get_job("retrain") is None
        assert jobs.scheduler.get_job("alert-rules") is not None  # the others are
    finally:
        jobs.stop()


def test_with_the_setting_the_job_runs_at_its_times_in_utc(
    settings: OpsSettings, engine: Engine
) -> None:
    jobs = OpsJobs(settings, engine, dict, LatencyRecorder("t"))
    jobs.start()
    try:
        job = jobs.scheduler.get_job("retrain")
        assert job is not None
        now = datetime.now(UTC)
        expected = now.replace(hour=3, minute=0, second=0, microsecond=0)
        if expected <= now:
            expected += timedelta(days=1)
        assert job.next_run_time == expected
    finally:
        jobs.stop()


@pytest.mark.parametrize("line", ["0 25 * * *", "every night", "0 3 * *"])
def test_a_bad_cron_line_is_refused_naming_the_setting(line: str) -> None:
    with pytest.raises(
        ValidationError, match=re.escape(f"BADBUZZ_RETRAIN_CRON '{line}' is not a crontab")
    ):
        RetrainSettings(cron=line)


def test_serve_stops_at_start_on_a_bad_cron_line_with_one_error_line(tmp_path: Path) -> None:
    started = run_badbuzz(
        "serve",
        "--port",
        "1",
        home=tmp_path,
        env={"BADBUZZ_RETRAIN_CRON": "0 3 * * 8"},
        cwd=tmp_path,
        timeout=120,
    )
    assert started.returncode == 2, started.stderr
    lines = started.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: retrain_cron: "), started.stderr
    assert "BADBUZZ_RETRAIN_CRON '0 3 * * 8' is not a crontab line" in lines[0]
    assert "Traceback" not in started.stderr


def test_where_training_is_not_installed_the_log_says_so_once_and_no_job_runs(
    settings: OpsSettings,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # what the API image lacks: here a module no install has stands for it
    monkeypatch.setattr(
        scheduled_retrain, "TRAINING_MODULES", ("sklearn", "no_such_training_module")
    )
    jobs = OpsJobs(settings, engine, dict, LatencyRecorder("t"))
    with caplog.at_level(logging.WARNING, logger="ops.jobs"):
        jobs.start()
        jobs.stop()
    said = [r.getMessage() for r in caplog.records if "BADBUZZ_RETRAIN_CRON" in r.getMessage()]
    assert len(said) == 1, said
    assert "no_such_training_module are not installed" in said[0]
    assert "sklearn" not in said[0].split("(")[1].split(" are ")[0]
    assert "`badbuzz retrain --min-new-feedback 200`" in said[0]
    assert jobs.scheduler.get_job("retrain") is None


# -- a run ---------------------------------------------------------------------------------


def test_too_few_new_verdicts_is_recorded_as_skipped(
    tmp_path: Path, settings: OpsSettings, engine: Engine
) -> None:
    settings = settings.model_copy(
        update={"retrain": settings.retrain.model_copy(update={"min_new_verdicts": 250})}
    )
    reason = (
        "12 new verdicts since version 4, the champion, was registered (2026-12-01 03:00 UTC);"
        " --min-new-feedback is 250: nothing to do."
    )
    program = fake_retrain(
        tmp_path,
        f"""
        print({reason!r})
        write({{"outcome": "skipped", "reason": {reason!r}, "champion_version": "4",
                "new_version": None}})
        """,
    )

    run = ScheduledRetrain(settings, engine, command=program).run()

    assert run is not None and run.outcome == "skipped"
    (called,) = calls(tmp_path)
    args = called["args"]
    assert isinstance(args, list) and args[args.index("--min-new-feedback") + 1] == "250"
    (row,) = rows(engine)
    assert (row["outcome"], row["reason"], row["new_version"]) == ("skipped", reason, None)
    assert row["exit_code"] == 0 and row["finished_at"] is not None
    assert reason in Path(str(row["output_path"])).read_text()


def test_a_promotion_is_recorded_with_the_new_version(
    tmp_path: Path, settings: OpsSettings, engine: Engine
) -> None:
    program = fake_retrain(tmp_path, f"write({PROMOTED!r})")

    run = ScheduledRetrain(settings, engine, command=program).run()

    assert run is not None
    assert (run.outcome, run.champion_version, run.new_version) == ("promoted", "4", "5")
    (row,) = rows(engine)
    assert (row["outcome"], row["champion_version"], row["new_version"]) == ("promoted", "4", "5")
    assert row["reason"] == PROMOTED["reason"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            """
            print("retraining", flush=True)
            print("error: no @champion version of 'tweet-sentiment': promote one", file=sys.stderr)
            sys.exit(2)
            """,
            "exit 2: no @champion version of 'tweet-sentiment': promote one",
        ),
        (  # rich wraps a long message where no terminal is
            """
            err = sys.stderr
            print("error: this command needs 'pandas', which is not installed here", file=err)
            print("(an install has only what its extras bring): install badbuzz[train]", file=err)
            sys.exit(2)
            """,
            "exit 2: this command needs 'pandas', which is not installed here (an install has "
            "only what its extras bring): install badbuzz[train]",
        ),
        ("raise RuntimeError('the fit blew up')", "exit 1: RuntimeError: the fit blew up"),
        ("print('done?')", "exit 0 but no outcome written"),
    ],
)
def test_a_failed_run_is_recorded_with_its_reason_and_not_retried(
    tmp_path: Path, settings: OpsSettings, engine: Engine, body: str, reason: str
) -> None:
    retrain = ScheduledRetrain(settings, engine, command=fake_retrain(tmp_path, body))
    slot = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)

    run = retrain.run(slot)
    again = retrain.run(slot)  # the same scheduled time, e.g. another process's scheduler

    assert run is not None and run.outcome == "failed"
    assert run.reason is not None and run.reason.startswith(reason)
    assert again is None
    assert len(calls(tmp_path)) == 1
    (row,) = rows(engine)
    assert row["outcome"] == "failed" and row["finished_at"] is not None
    # the next scheduled time runs again: once
    assert retrain.run(slot + timedelta(days=1)) is not None
    assert len(calls(tmp_path)) == 2


def test_a_run_past_its_timeout_is_killed_and_recorded(
    tmp_path: Path, settings: OpsSettings, engine: Engine
) -> None:
    settings = settings.model_copy(
        update={"retrain": settings.retrain.model_copy(update={"timeout_s": 1.0})}
    )
    program = fake_retrain(tmp_path, "time.sleep(120)")
    started = time.monotonic()

    run = ScheduledRetrain(settings, engine, command=program).run()

    assert time.monotonic() - started < 20
    assert run is not None and run.outcome == "failed"
    assert run.reason is not None and run.reason.startswith("killed after 1 s")
    (called,) = calls(tmp_path)
    assert isinstance(called["pid"], int) and not alive(called["pid"])


def test_stopping_the_process_stops_a_run_in_progress(
    tmp_path: Path, settings: OpsSettings, engine: Engine
) -> None:
    retrain = ScheduledRetrain(settings, engine, command=fake_retrain(tmp_path, "time.sleep(120)"))
    threading.Timer(1.0, retrain.stop).start()

    run = retrain.run()

    assert run is not None and run.outcome == "failed"
    assert run.reason == "stopped: the API process shut down during the run"
    (called,) = calls(tmp_path)
    assert isinstance(called["pid"], int) and not alive(called["pid"])


def test_a_run_its_process_never_finished_is_closed_as_failed_at_the_next(
    tmp_path: Path, settings: OpsSettings, engine: Engine
) -> None:
    crashed = new_id()
    with engine.begin() as connection:
        connection.execute(
            insert(retrain_runs).values(
                id=crashed,
                scheduled_for=datetime(2026, 12, 3, 3, 0, tzinfo=UTC),
                runner="gone:1:dead",
                started_at=utcnow() - timedelta(days=1),
                outcome="running",
            )
        )
    program = fake_retrain(tmp_path, f"write({PROMOTED!r})")

    ScheduledRetrain(settings, engine, command=program).run()

    outcomes = {row["id"]: (row["outcome"], row["reason"]) for row in rows(engine)}
    assert outcomes[crashed][0] == "failed"
    assert str(outcomes[crashed][1]).startswith("interrupted")
    assert len(calls(tmp_path)) == 1  # it is not run again


def test_of_two_processes_one_runs_the_retrain(
    tmp_path: Path, settings: OpsSettings, engine: Engine
) -> None:
    program = fake_retrain(tmp_path, f"time.sleep(1.5)\nwrite({PROMOTED!r})")
    runners = [
        ScheduledRetrain(settings, connect(settings.resolved_database_url), f"p{n}", program)
        for n in (1, 2)
    ]
    slot = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
    results: dict[str, object] = {}
    barrier = threading.Barrier(2)

    def fire(retrain: ScheduledRetrain) -> None:
        barrier.wait()
        results[retrain.lease.holder] = retrain.run(slot)

    threads = [threading.Thread(target=fire, args=(runner,)) for runner in runners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(result is None for result in results.values()) == [False, True]
    assert len(calls(tmp_path)) == 1
    (row,) = rows(engine)
    assert row["outcome"] == "promoted"
    # the slower scheduler fires after the run ended: the scheduled time was run already
    assert runners[0].run(slot) is None and runners[1].run(slot) is None
    assert len(calls(tmp_path)) == 1


def test_while_one_process_retrains_another_does_not_start_one(
    tmp_path: Path, settings: OpsSettings, engine: Engine
) -> None:
    """A run that outlasts the interval of its cron line: the next scheduled time, fired in
    another process, finds the lease held (two fits would race to move @champion)."""
    program = fake_retrain(tmp_path, f"time.sleep(3)\nwrite({PROMOTED!r})")
    first = ScheduledRetrain(settings, engine, "p1", program)
    second = ScheduledRetrain(settings, connect(settings.resolved_database_url), "p2", program)
    slot = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
    running = threading.Thread(target=first.run, args=(slot,))
    running.start()
    deadline = time.monotonic() + 20
    while not calls(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.05)

    assert second.run(slot + timedelta(minutes=1)) is None
    running.join(30)
    assert len(calls(tmp_path)) == 1
    assert [row["outcome"] for row in rows(engine)] == ["promoted"]


def test_processes_firing_a_little_apart_agree_on_the_scheduled_time(
    settings: OpsSettings, engine: Engine
) -> None:
    retrain = ScheduledRetrain(settings, engine)
    three = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)

    assert retrain.scheduled_time(three + timedelta(seconds=0.01)) == three
    assert retrain.scheduled_time(three + timedelta(seconds=25)) == three


# -- the digest ----------------------------------------------------------------------------


def test_the_digest_lists_the_days_retrains_after_a_restart(
    tmp_path: Path, settings: OpsSettings, engine: Engine
) -> None:
    failing = fake_retrain(tmp_path, "print('error: the MLflow server did not answer'); exit(2)")
    ScheduledRetrain(settings, engine, command=failing).run(datetime(2026, 12, 3, 3, tzinfo=UTC))
    promoting = fake_retrain(tmp_path, f"write({PROMOTED!r})")
    ScheduledRetrain(settings, engine, command=promoting).run(datetime(2026, 12, 4, 3, tzinfo=UTC))
    engine.dispose()  # a restart: what the digest shows comes from the database

    restarted = connect(settings.resolved_database_url)
    folder = record_digest(restarted, utcnow() + timedelta(minutes=1), CARD, settings)

    assert folder is not None
    text = " ".join((folder / "report.txt").read_text().split())
    assert f"Scheduled retrain (2; {NIGHTLY} UTC)" in text
    assert "failed: exit 2: the MLflow server did not answer" in text
    assert "promoted: @champion -> version 5 (was 4); promoted: accuracy +0.074" in text
    assert text.index("failed:") < text.index("promoted: @champion")  # in time order
    html = (folder / "report.html").read_text()
    assert "@champion -&gt; version 5 (was 4)" in html
    assert "BADBUZZ_RETRAIN_CRON" in text
    with restarted.connect() as connection:
        subject = connection.execute(select(outbox.c.subject)).scalar_one()
    assert "retrain promoted version 5" in subject
