"""The alert rules and the lease against a real database (SQLite file and PostgreSQL), with
time given explicitly: what fires, what does not, and that nothing fires twice."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert
from sqlalchemy.engine import Engine

from badbuzz.settings import OpsSettings
from ops.alerts import record_alert
from ops.database import feedback, new_id
from ops.latency import LatencyRecorder
from ops.lease import Lease
from ops.outbox import backoff
from ops.rules import ErrorWindow, Firing, LatencyRule

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
RULE = ErrorWindow(threshold=3, window_s=300, cooldown_s=900)


def flag(engine: Engine, at: datetime, correct: bool = False) -> str:
    feedback_id = new_id()
    with engine.begin() as connection:
        connection.execute(
            insert(feedback).values(
                id=feedback_id,
                prediction_id=None,
                text="worst airline ever",
                predicted_label="positive",
                correct=correct,
                model_version="1",
                created_at=at,
            )
        )
    return feedback_id


@pytest.fixture
def settings(tmp_path: Path) -> OpsSettings:
    return OpsSettings(home=tmp_path)


def check(
    engine: Engine,
    settings: OpsSettings,
    now: datetime,
    rule: ErrorWindow | LatencyRule = RULE,
) -> Firing | None:
    """What the jobs do: check, and record the alert if it fires."""
    with engine.connect() as connection:
        firing = rule.check(connection, now)
    if firing is not None:
        record_alert(engine, firing, new_id(), {"version": "1"}, settings)
    return firing


def test_three_wrong_within_the_window_fire_once(engine: Engine, settings: OpsSettings) -> None:
    ids = [flag(engine, T0 + timedelta(seconds=s)) for s in (0, 100, 200)]
    flag(engine, T0 + timedelta(seconds=150), correct=True)  # a right verdict counts for nothing
    assert check(engine, settings, T0 + timedelta(seconds=199)) is None  # only two so far
    firing = check(engine, settings, T0 + timedelta(seconds=200))
    assert firing is not None and firing.feedback_ids == ids and firing.observed == 3
    assert check(engine, settings, T0 + timedelta(seconds=201)) is None  # recorded: never twice


def test_three_wrong_spread_over_more_than_the_window_do_not_fire(
    engine: Engine, settings: OpsSettings
) -> None:
    for s in (0, 200, 400):
        flag(engine, T0 + timedelta(seconds=s))
        assert check(engine, settings, T0 + timedelta(seconds=s)) is None


def test_the_cooldown_holds_and_counted_flags_never_count_again(
    engine: Engine, settings: OpsSettings
) -> None:
    for s in (0, 10, 20):
        flag(engine, T0 + timedelta(seconds=s))
    assert check(engine, settings, T0 + timedelta(seconds=20)) is not None
    for s in (30, 40, 50):  # the problem lasts: within the cooldown, no second mail
        flag(engine, T0 + timedelta(seconds=s))
    assert check(engine, settings, T0 + timedelta(seconds=60)) is None
    after = T0 + timedelta(seconds=20 + 900)
    assert check(engine, settings, after) is None  # the old flags are out of the window by now
    new = [flag(engine, after + timedelta(seconds=s)) for s in (1, 2, 3)]
    firing = check(engine, settings, after + timedelta(seconds=3))
    assert firing is not None and firing.feedback_ids == new


def test_the_latency_rule_fires_on_a_slow_p95_only(engine: Engine, settings: OpsSettings) -> None:
    rule = LatencyRule(threshold_s=0.25, window_s=300, min_requests=20, cooldown_s=900)
    recorder = LatencyRecorder("test")
    start = T0.timestamp()
    for n in range(100):  # 94 fast, 6 slow: p95 is slow
        recorder.observe(0.8 if n % 16 == 0 else 0.004, start + n / 10)
    recorder.flush(engine, start + 60)
    assert check(engine, settings, T0 + timedelta(seconds=30), rule) is not None
    fast = LatencyRecorder("fast")
    for n in range(100):
        fast.observe(0.8 if n < 3 else 0.004, start + 1000 + n / 10)  # 3 % slow: p95 fast
    fast.flush(engine, start + 1100)
    later = T0 + timedelta(seconds=1000 + 900 + 50)
    assert check(engine, settings, later, LatencyRule(0.25, 1000, 20, 0)) is None


def test_too_few_requests_give_no_latency_verdict(engine: Engine, settings: OpsSettings) -> None:
    recorder = LatencyRecorder("test")
    for n in range(10):
        recorder.observe(3.0, T0.timestamp() + n)
    recorder.flush(engine, T0.timestamp() + 20)
    assert (
        check(engine, settings, T0 + timedelta(seconds=20), LatencyRule(0.25, 300, 20, 0)) is None
    )


def test_one_holder_at_a_time_and_a_dead_holder_is_replaced(
    engine: Engine, settings: OpsSettings
) -> None:
    first = Lease(engine, "ops", ttl_s=0.5, holder="first")
    second = Lease(engine, "ops", ttl_s=0.5, holder="second")
    assert first.acquire() and first.acquire()  # renewing is holding
    assert not second.acquire()
    first.release()
    assert second.acquire() and not first.acquire()
    time.sleep(0.6)  # second stopped renewing: it is taken as dead
    assert first.acquire()


def test_retries_back_off_to_a_ceiling() -> None:
    waits = [backoff(n, 30).total_seconds() for n in range(1, 8)]
    assert waits == [1, 2, 4, 8, 16, 30, 30]
