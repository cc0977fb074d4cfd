"""The bad-buzz detector on synthetic streams with known answers (a flat stream, a planted
spike, a spike of three tweets, a busy day of the usual mood, the cooldown), and the live
watch on a real database (SQLite file, PostgreSQL): the same answers, its state kept across a
restart."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Engine

from badbuzz.settings import OpsSettings
from ops.alerts import recent_alerts
from ops.brands import UNBRANDED, BrandMatcher
from ops.buzz import Buzz, BuzzDetector, BuzzRule, StreamDetector
from ops.buzz_watch import BuzzWatch, buzz_overview, load_states
from ops.database import alerts, connect, new_id, outbox, predictions
from ops.rules import BUZZ
from tests.processes import PostgresUnavailable, throwaway_postgres

T0 = datetime(2015, 2, 16, 0, 0, tzinfo=UTC)  # a window boundary
HOUR = timedelta(hours=1)
CARD = {"name": "tweet-sentiment", "version": "3"}
Tweet = tuple[datetime, str, bool]  # (posted at, brand, negative)


def buzz_settings(home: Path, **extra: object) -> OpsSettings:
    values: dict[str, object] = {
        "home": home,
        "buzz_window_seconds": 3600,
        "buzz_baseline_windows": 48,
        "buzz_min_history_windows": 12,
        "buzz_min_negatives": 10,
        "buzz_z": 4.0,
        "buzz_min_share_rise": 0.1,
        "buzz_cooldown_seconds": 3 * 3600,
        "buzz_grace_seconds": 60,
    }
    return OpsSettings(**(values | extra))  # type: ignore[arg-type]


def rule(**extra: object) -> BuzzRule:
    return BuzzRule.from_settings(buzz_settings(Path("."), **extra))


def flat(hours: int, brand: str = "United", tweets: int = 20, seed: int = 1) -> list[Tweet]:
    """`tweets` an hour, each negative with probability 0.3, spread over the hour."""
    draw = random.Random(seed)
    stream = []
    for hour in range(hours):
        for n in range(tweets):
            at = T0 + hour * HOUR + timedelta(seconds=(n + draw.random()) * 3600 / tweets)
            stream.append((at, brand, draw.random() < 0.3))
    return stream


def spike(hour: int, negatives: int, brand: str = "United", minute: int = 20) -> list[Tweet]:
    start = T0 + hour * HOUR + timedelta(minutes=minute)
    return [(start + timedelta(seconds=10 * n), brand, True) for n in range(negatives)]


def replay(stream: list[Tweet], detector_rule: BuzzRule | None = None) -> list[Buzz]:
    detector = StreamDetector(BuzzDetector(detector_rule or rule()))
    found = []
    for at, brand, negative in sorted(stream):
        if buzz := detector.observe(brand, at, negative):
            found.append(buzz)
    return found


def test_a_flat_stream_raises_nothing() -> None:
    assert replay(flat(72)) == []


def test_a_planted_spike_raises_one_alert_in_its_window() -> None:
    stream = flat(72) + spike(40, 30)

    [buzz] = replay(stream)

    assert buzz.brand == "United"
    assert buzz.window_start == T0 + 40 * HOUR and buzz.window_end == T0 + 41 * HOUR
    assert buzz.negatives >= buzz.baseline.threshold > buzz.baseline.negatives
    assert 4 <= buzz.baseline.negatives <= 8  # 30 % of 20 an hour
    # it fires with the crossing tweet, not at the window's end
    crossing = sorted(t for t in stream if T0 + 40 * HOUR <= t[0] < T0 + 41 * HOUR and t[2])
    assert buzz.at == crossing[buzz.baseline.threshold - 1][0]


def test_three_negative_tweets_on_a_quiet_brand_are_no_buzz() -> None:
    quiet = [(T0 + hour * HOUR, "Virgin", False) for hour in range(48)]  # one happy tweet an hour

    assert replay(quiet + spike(30, 3, "Virgin")) == []
    # the same brand with a real pile-up does alert: the minimum, not the brand, held it back
    assert len(replay(quiet + spike(30, 12, "Virgin"))) == 1


def test_a_busy_day_of_the_usual_mood_is_no_buzz() -> None:
    # three times the tweets for a few hours, 30 % negative as always
    busy = flat(72) + [
        (at + 40 * HOUR, brand, negative) for at, brand, negative in flat(4, tweets=60, seed=3)
    ]

    assert replay(busy) == []


def test_the_cooldown_keeps_a_lasting_buzz_to_one_alert_then_lets_the_next_through() -> None:
    lasting = flat(72) + spike(40, 30) + spike(41, 30) + spike(42, 30)
    later = flat(72) + spike(40, 30) + spike(44, 30)

    assert [b.window_start for b in replay(lasting)] == [T0 + 40 * HOUR]
    assert [b.window_start for b in replay(later)] == [T0 + 40 * HOUR, T0 + 44 * HOUR]


def test_no_verdict_before_the_brand_has_a_history() -> None:
    assert replay(flat(6) + spike(5, 40)) == []


def test_each_brand_is_judged_against_its_own_history() -> None:
    big = flat(72, "American", tweets=200, seed=5)  # 60 negatives an hour is its normal
    stream = big + flat(72, "Virgin", tweets=10, seed=6) + spike(40, 40, "Virgin")

    assert [(b.brand, b.window_start) for b in replay(stream)] == [("Virgin", T0 + 40 * HOUR)]


def test_brands_come_from_the_sender_else_the_first_handle_else_all() -> None:
    brands = BrandMatcher({"@united": "United", "@americanair": "American"})

    assert brands.brand_of("@AmericanAir and @united both lost my bag") == "American"
    assert brands.brand_of("thanks @UNITED!") == "United"
    assert brands.brand_of("@unitedkingdom rocks, mail@united.com") == UNBRANDED
    assert brands.brand_of("@united again", "united") == "United"  # the configured spelling
    assert brands.brand_of("@united again", "Delta") == UNBRANDED  # not configured: `all`
    assert brands.brand_of("no airline here") == UNBRANDED
    assert BrandMatcher({}).brand_of("@united again", "Delta") == "Delta"  # none configured


def test_brands_setting_reads_handles_and_refuses_what_it_cannot() -> None:
    settings = OpsSettings(brands="@united=United, AmericanAir=American")  # type: ignore[arg-type]

    assert settings.brands == {"@united": "United", "@americanair": "American"}
    with pytest.raises(ValueError, match="@handle=Brand"):
        OpsSettings(brands="@united")  # type: ignore[arg-type]


# -- the live watch, on a database ----------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = connect(f"sqlite:///{tmp_path / 'buzz.db'}")
        yield engine
        engine.dispose()
        return
    try:
        with throwaway_postgres("badbuzz_buzz") as url:
            engine = connect(url)
            yield engine
            engine.dispose()
    except PostgresUnavailable as error:
        pytest.skip(str(error))


def store(engine: Engine, stream: list[Tweet]) -> None:
    rows = [
        {
            "id": new_id(),
            "text": f"{'worst delay ever #stuck' if negative else 'nice crew'} {n}",
            "label": "negative" if negative else "positive",
            "probability_positive": 0.1 if negative else 0.9,
            "model_name": "tweet-sentiment",
            "model_version": "3",
            "created_at": at,
            "tweeted_at": at,
            "brand": brand,
        }
        for n, (at, brand, negative) in enumerate(stream)
    ]
    with engine.begin() as connection:
        connection.execute(insert(predictions), rows)


def watch_until(
    engine: Engine, watch: BuzzWatch, first: datetime, last: datetime, step: timedelta
) -> list[Buzz]:
    """The job's runs from `first` to `last`, every `step` (the stream is stored already)."""
    found = []
    now = first
    while now <= last:
        found += [buzz for buzz, _ in watch.check(engine, now, CARD, new_id)]
        now += step
    return found


def test_the_live_watch_finds_the_spike_the_replay_finds_and_mails_it(
    engine: Engine, tmp_path: Path
) -> None:
    stream = flat(48) + spike(40, 30)
    store(engine, stream)
    watch = BuzzWatch(buzz_settings(tmp_path))

    found = watch_until(engine, watch, T0 + 36 * HOUR, T0 + 47 * HOUR, timedelta(minutes=10))

    [buzz] = found
    [replayed] = replay(stream)
    assert (buzz.brand, buzz.window_start, buzz.baseline) == (
        replayed.brand,
        replayed.window_start,
        replayed.baseline,
    )
    assert buzz.at <= T0 + 40 * HOUR + timedelta(minutes=30)  # a check interval after crossing
    with engine.connect() as connection:
        [alert] = recent_alerts(connection, 10, alerts.c.rule == BUZZ)
        mails = connection.execute(select(func.count()).select_from(outbox)).scalar_one()
    assert alert.brand == "United" and alert.observed == buzz.negatives
    assert alert.baseline == buzz.baseline.negatives
    assert mails == 1
    report = Path(str(alert.report_path)) / "report.txt"
    text = report.read_text()
    assert "United" in text and "worst delay ever #stuck" in text
    assert "#stuck" in text.split("grew most")[1]
    named = {name.removeprefix("BADBUZZ_").lower() for name in re.findall(r"BADBUZZ_\w+", text)}
    assert "buzz_z" in named and named <= set(OpsSettings.model_fields)
    assert (report.parent / "chart.png").is_file()


def test_a_restart_keeps_the_baseline_even_when_old_predictions_are_gone(
    engine: Engine, tmp_path: Path
) -> None:
    store(engine, flat(48) + spike(40, 30))
    first = BuzzWatch(buzz_settings(tmp_path))
    ten_past = timedelta(minutes=10)  # windows close a grace period after their end
    assert (
        watch_until(engine, first, T0 + 20 * HOUR + ten_past, T0 + 30 * HOUR + ten_past, HOUR) == []
    )
    with engine.connect() as connection:
        learned = load_states(connection, 3600)["United"]
    assert len(learned.history) == 30

    # a new process on the same database; retention has deleted the first day meanwhile
    engine.dispose()
    again = connect(engine.url.render_as_string(hide_password=False))
    with again.begin() as connection:
        connection.execute(delete(predictions).where(predictions.c.tweeted_at < T0 + 24 * HOUR))
    second = BuzzWatch(buzz_settings(tmp_path))
    found = watch_until(again, second, T0 + 31 * HOUR, T0 + 42 * HOUR, timedelta(minutes=15))

    assert [b.window_start for b in found] == [T0 + 40 * HOUR]
    assert found[0].baseline.windows == 40  # the 30 learned before the restart, and 10 more
    with again.connect() as connection:
        assert load_states(connection, 3600)["United"].last_alert_window == T0 + 40 * HOUR
    # and it does not fire twice for the same buzz after another restart
    third = BuzzWatch(buzz_settings(tmp_path))
    assert watch_until(again, third, T0 + 41 * HOUR, T0 + 43 * HOUR, timedelta(minutes=30)) == []
    again.dispose()


def test_the_overview_counts_windows_per_brand_with_their_alerts(
    engine: Engine, tmp_path: Path
) -> None:
    store(engine, flat(48) + spike(40, 30) + flat(48, "American", tweets=5, seed=9))
    watch = BuzzWatch(buzz_settings(tmp_path))
    now = T0 + 42 * HOUR + timedelta(minutes=5)
    watch_until(engine, watch, T0 + 39 * HOUR, now, timedelta(minutes=30))

    with engine.connect() as connection:
        overview = buzz_overview(connection, watch, now, hours=6)
        united = buzz_overview(connection, watch, now, hours=6, brand="United")

    assert [a.brand for a in overview.brands] == ["American", "United"]
    windows = overview.brands[1].windows
    assert [w.start for w in windows] == [T0 + h * HOUR for h in range(37, 43)]
    assert windows[3].negatives >= 30 and windows[3].total >= 50
    assert overview.brands[1].baseline is not None
    assert [a.brand for a in overview.alerts] == ["United"]
    assert [a.brand for a in united.brands] == ["United"] and len(united.alerts) == 1


def test_a_new_window_length_learns_the_baseline_again_from_the_predictions(
    engine: Engine, tmp_path: Path
) -> None:
    store(engine, flat(48))
    hourly = BuzzWatch(buzz_settings(tmp_path))
    hourly.check(engine, T0 + 30 * HOUR + timedelta(minutes=5), CARD, new_id)

    halves = BuzzWatch(buzz_settings(tmp_path, buzz_window_seconds=1800))
    halves.check(engine, T0 + 31 * HOUR + timedelta(minutes=5), CARD, new_id)

    with engine.connect() as connection:
        [kept] = load_states(connection, 1800).values()
        assert load_states(connection, 3600) == {}
    assert kept.closed_until == T0 + 31 * HOUR
    assert len(kept.history) == 48  # the last 48 half hours, from the stored tweets
    assert sum(n for _, n in kept.history) == 24 * 20
