"""The bad-buzz detector on synthetic streams with known answers (a flat stream, a planted
spike, a spike of three tweets, a busy day of the usual mood, the cooldown), and the live
watch on a real database (SQLite file, PostgreSQL): the same answers, its state kept across a
restart."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Engine

from badbuzz.settings import BuzzSettings, OpsSettings, variables
from ops.alerts import recent_alerts
from ops.brands import UNBRANDED, BrandMatcher
from ops.buzz import Buzz, BuzzDetector, BuzzRule, StreamDetector
from ops.buzz_overview import buzz_overview
from ops.buzz_state import load_states
from ops.buzz_watch import BuzzWatch
from ops.count_tail import tail_probability, upper_quantile
from ops.database import alerts, connect, new_id, outbox, predictions
from ops.rules import BUZZ

T0 = datetime(2015, 2, 16, 0, 0, tzinfo=UTC)  # a window boundary, and midnight
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
CARD = {"name": "tweet-sentiment", "version": "3"}
Tweet = tuple[datetime, str, bool]  # (posted at, brand, negative)


def buzz_settings(home: Path, **extra: Any) -> OpsSettings:
    """The defaults, but a shorter grace (`extra`: of `BuzzSettings`)."""
    buzz = BuzzSettings(**({"grace_seconds": 60} | extra))
    return OpsSettings(_env_file=None, home=home, buzz=buzz)  # type: ignore[call-arg]


def rule(**extra: Any) -> BuzzRule:
    return BuzzRule.from_settings(buzz_settings(Path("."), **extra).buzz)


def daily_rate(hour: int, peak: float) -> float:
    """Tweets an hour as real mentions come: `peak` at 15:00, a twentieth of it at 03:00."""
    return peak * (0.525 + 0.475 * math.cos((hour - 15) * math.pi / 12))


def rhythm(
    days: float,
    brand: str = "United",
    peak: float = 30,
    negative_share: float = 0.7,
    seed: int = 1,
    start: datetime = T0,
) -> list[Tweet]:
    """Poisson tweets with a daily rhythm, each negative with probability `negative_share`."""
    draw = np.random.default_rng(seed)
    stream = []
    for hour in range(round(days * 24)):
        at = start + hour * HOUR
        for _ in range(draw.poisson(daily_rate(at.hour, peak))):
            moment = at + timedelta(seconds=float(draw.uniform(0, 3600)))
            stream.append((moment, brand, bool(draw.random() < negative_share)))
    return stream


def extra(
    first: datetime, hours: int, brand: str = "United", peak: float = 30, seed: int = 7
) -> list[Tweet]:
    """As many more complaints as the brand usually gets in those hours: a doubled stretch."""
    draw = np.random.default_rng(seed)
    stream = []
    for hour in range(hours):
        at = first + hour * HOUR
        for _ in range(draw.poisson(0.7 * daily_rate(at.hour, peak))):
            stream.append((at + timedelta(seconds=float(draw.uniform(0, 3600))), brand, True))
    return stream


def spike(at: datetime, negatives: int, brand: str = "United") -> list[Tweet]:
    return [(at + timedelta(seconds=10 * n), brand, True) for n in range(negatives)]


def replay(stream: list[Tweet], detector_rule: BuzzRule | None = None) -> list[Buzz]:
    detector = StreamDetector(BuzzDetector(detector_rule or rule()))
    found = []
    for at, brand, negative in sorted(stream):
        if buzz := detector.observe(brand, at, negative):
            found.append(buzz)
    return found


def test_the_count_tail_is_scipys() -> None:
    stats = pytest.importorskip("scipy.stats")
    alpha = tail_probability(3.5)
    for mean, dispersion in [(0.4, 1.0), (8.7, 1.0), (8.7, 2.5), (60.0, 3.0), (1000.0, 2.0)]:
        k = upper_quantile(mean, dispersion, alpha)
        if dispersion == 1.0:
            tail = stats.poisson(mean).sf
        else:
            tail = stats.nbinom(mean / (dispersion - 1), 1 / dispersion).sf
        assert tail(k - 1) <= alpha < tail(k - 2)  # P(X >= k) <= alpha < P(X >= k - 1)


def test_two_weeks_of_an_ordinary_daily_rhythm_raise_nothing() -> None:
    for seed in range(3):
        assert replay(rhythm(14, seed=seed)) == []


def test_a_doubled_afternoon_is_found_within_three_hours_and_says_why() -> None:
    afternoon = T0 + 9 * DAY + 13 * HOUR
    stream = rhythm(10) + extra(afternoon, 5)

    found = replay(stream)

    assert found, "the doubled afternoon was missed"
    buzz = found[0]
    assert buzz.brand == "United"
    assert afternoon <= buzz.at <= afternoon + 3 * HOUR
    # a lasting surge may be said again after the cooldown, but nothing outside it
    assert all(afternoon <= b.at < afternoon + 6 * HOUR for b in found)
    assert buzz.reason in {"volume", "pile-up"}
    assert buzz.baseline.days == 7  # a week of the same hours of the day
    # the expectation follows the time of day: about the rhythm's rate at that hour
    hour = buzz.window_start.hour
    assert buzz.baseline.negatives == pytest.approx(0.7 * daily_rate(hour, 30), rel=0.35)
    assert re.fullmatch(
        rf"United: \d+ negative tweets {hour:02d}:00-{hour + 1:02d}:00, about \d+ expected at "
        r"this hour; \d+\.\dx; 6-hour total \d+ vs \d+",
        buzz.summary,
    ), buzz.summary


def test_the_same_count_at_night_is_a_buzz_and_by_day_is_not() -> None:
    quiet_night = T0 + 9 * DAY + 3 * HOUR  # about 1 negative expected
    busy_day = T0 + 9 * DAY + 15 * HOUR  # about 21 expected
    base = rhythm(10)

    [night] = replay(base + spike(quiet_night + 5 * 60 * timedelta(seconds=1), 15))
    assert night.window_start == quiet_night and night.reason == "volume"
    assert replay(base + spike(busy_day + timedelta(minutes=5), 15)) == []


def test_three_negative_tweets_on_a_quiet_brand_are_no_buzz() -> None:
    quiet = rhythm(10, "Virgin", peak=3, seed=4)  # a handful of tweets an hour
    at = T0 + 9 * DAY + 15 * HOUR

    assert replay(quiet + spike(at, 3, "Virgin")) == []
    # the same brand with a real pile-up does alert: the minimum, not the brand, held it back
    assert len(replay(quiet + spike(at, 15, "Virgin"))) == 1


def test_a_turn_of_mood_at_the_usual_volume_alerts_on_the_share() -> None:
    base = rhythm(9, negative_share=0.3)
    # the tenth day: the usual number of tweets, but 90 % of them negative from 12:00
    turned = [
        (at, brand, negative if at < T0 + 9 * DAY + 12 * HOUR else bool(n % 10))
        for n, (at, brand, negative) in enumerate(
            rhythm(1, negative_share=0.3, seed=9, start=T0 + 9 * DAY)
        )
    ]

    found = replay(base + turned)

    assert [b.reason for b in found][:1] == ["share"]
    assert found[0].at.hour in (12, 13)


def test_a_brand_appearing_from_nothing_is_a_new_source_not_a_buzz(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # one stray tweet a day for a week, then a collection of 100 complaints an hour begins
    strays = [(T0 + d * DAY + 12 * HOUR, "American", True) for d in range(7)]
    flood = rhythm(2, "American", peak=140, negative_share=0.8, start=T0 + 7 * DAY)
    detector = BuzzDetector(rule())
    stream = StreamDetector(detector)

    with caplog.at_level("INFO", logger="ops.buzz"):
        found = [stream.observe(b, at, n) for at, b, n in sorted(strays + flood)]

    assert [b for b in found if b] == []
    assert detector.learning(stream.states["American"]) is not None
    said = [r for r in caplog.records if "no verdict on American" in r.getMessage()]
    assert len(said) == 1  # said once, not at every tweet


def test_the_cooldown_keeps_a_lasting_buzz_to_one_alert_then_lets_the_next_through() -> None:
    night = T0 + 9 * DAY + 2 * HOUR
    lasting = rhythm(10) + spike(night, 15) + spike(night + HOUR, 15) + spike(night + 2 * HOUR, 15)
    later = rhythm(10) + spike(night, 15) + spike(night + 4 * HOUR, 30)

    assert [b.window_start for b in replay(lasting)] == [night]
    assert [b.window_start for b in replay(later)] == [night, night + 4 * HOUR]


def test_each_brand_is_judged_against_its_own_history() -> None:
    big = rhythm(10, "American", peak=200, seed=5)  # 140 negatives an hour is its normal
    small = rhythm(10, "Virgin", peak=10, seed=6)
    at = T0 + 9 * DAY + 15 * HOUR

    found = replay(big + small + spike(at, 40, "Virgin"))

    assert [(b.brand, b.window_start) for b in found] == [("Virgin", at)]


def test_a_window_that_does_not_divide_a_day_is_refused() -> None:
    with pytest.raises(ValueError, match="divide a day"):
        buzz_settings(Path("."), window_seconds=7000)


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


def test_the_live_watch_and_the_replay_agree_alert_for_alert_and_it_is_mailed(
    engine: Engine, tmp_path: Path
) -> None:
    night = T0 + 8 * DAY + 3 * HOUR
    stream = (
        rhythm(9) + spike(night + timedelta(minutes=20), 15) + extra(T0 + 8 * DAY + 13 * HOUR, 5)
    )
    store(engine, stream)
    watch = BuzzWatch(buzz_settings(tmp_path))

    found = watch_until(engine, watch, T0 + 7 * DAY, T0 + 9 * DAY, timedelta(minutes=10))

    replayed = replay(stream)
    assert len(replayed) >= 2
    assert [(b.brand, b.window_start, b.reason) for b in found] == [
        (b.brand, b.window_start, b.reason) for b in replayed
    ]
    for live, back in zip(found, replayed, strict=True):
        assert live.at - back.at <= timedelta(minutes=10)  # a check interval after crossing
        assert live.baseline.negatives == pytest.approx(back.baseline.negatives, rel=0.05)
    with engine.connect() as connection:
        stored = recent_alerts(connection, 10, alerts.c.rule == BUZZ)
        mails = connection.execute(select(func.count()).select_from(outbox)).scalar_one()
    alert = stored[-1]  # the oldest: the night's
    assert alert.brand == "United" and alert.observed == found[0].negatives
    assert alert.baseline == found[0].baseline.negatives
    assert mails == len(found)
    report = Path(str(alert.report_path)) / "report.txt"
    text = report.read_text()
    assert "United" in text and "worst delay ever #stuck" in text and "expected" in text
    assert "#stuck" in text.split("grew most")[1]
    named = {name.removeprefix("BADBUZZ_").lower() for name in re.findall(r"BADBUZZ_\w+", text)}
    settings = {name.removeprefix("BADBUZZ_").lower() for name in variables(OpsSettings)}
    assert "buzz_z" in named and named <= settings
    assert (report.parent / "chart.png").is_file()


def test_a_restart_keeps_the_baseline_even_when_old_predictions_are_gone(
    engine: Engine, tmp_path: Path
) -> None:
    night = T0 + 8 * DAY + 3 * HOUR
    store(engine, rhythm(9) + spike(night + timedelta(minutes=20), 15))
    first = BuzzWatch(buzz_settings(tmp_path))
    ten_past = timedelta(minutes=10)  # windows close a grace period after their end
    assert watch_until(engine, first, T0 + 4 * DAY + ten_past, T0 + 7 * DAY + ten_past, HOUR) == []
    with engine.connect() as connection:
        learned = load_states(connection, 3600)["United"]
    assert len(learned.history) == 7 * 24

    # a new process on the same database; retention has deleted the first week meanwhile
    engine.dispose()
    again = connect(engine.url.render_as_string(hide_password=False))
    with again.begin() as connection:
        connection.execute(delete(predictions).where(predictions.c.tweeted_at < T0 + 7 * DAY))
    second = BuzzWatch(buzz_settings(tmp_path))
    found = watch_until(again, second, T0 + 7 * DAY + HOUR, night + 2 * HOUR, timedelta(minutes=15))

    assert [b.window_start for b in found] == [night]
    assert found[0].baseline.days == 7  # learned before the restart, from deleted predictions
    with again.connect() as connection:
        assert load_states(connection, 3600)["United"].last_alert_window == night
    # and it does not fire twice for the same buzz after another restart
    third = BuzzWatch(buzz_settings(tmp_path))
    assert watch_until(again, third, night + HOUR, night + 3 * HOUR, timedelta(minutes=30)) == []
    again.dispose()


def test_the_overview_counts_windows_per_brand_learning_or_with_what_it_expects(
    engine: Engine, tmp_path: Path
) -> None:
    night = T0 + 8 * DAY + 3 * HOUR
    newcomer = rhythm(1, "American", peak=10, seed=9, start=T0 + 8 * DAY)
    store(engine, rhythm(9) + spike(night + timedelta(minutes=20), 15) + newcomer)
    watch = BuzzWatch(buzz_settings(tmp_path))
    now = night + 2 * HOUR + timedelta(minutes=5)
    watch_until(engine, watch, night - HOUR, now, timedelta(minutes=30))

    with engine.connect() as connection:
        overview = buzz_overview(connection, watch, now, hours=6)
        united = buzz_overview(connection, watch, now, hours=6, brand="United")

    assert [a.brand for a in overview.brands] == ["American", "United"]
    american, watched = overview.brands
    assert american.baseline is None and american.learning is not None
    assert set(american.expected) == {None}
    assert watched.learning is None and watched.baseline is not None
    assert [w.start for w in watched.windows] == [night + h * HOUR for h in range(-3, 3)]
    assert watched.windows[3].negatives >= 15
    assert all(e is not None and e < 5 for e in watched.expected[:4])  # night hours: quiet
    assert [a.brand for a in overview.alerts] == ["United"]
    assert [a.brand for a in united.brands] == ["United"] and len(united.alerts) == 1


def test_a_new_window_length_learns_the_baseline_again_from_the_predictions(
    engine: Engine, tmp_path: Path
) -> None:
    store(engine, rhythm(2))
    hourly = BuzzWatch(buzz_settings(tmp_path))
    hourly.check(engine, T0 + 30 * HOUR + timedelta(minutes=5), CARD, new_id)

    halves = BuzzWatch(buzz_settings(tmp_path, window_seconds=1800))
    halves.check(engine, T0 + 31 * HOUR + timedelta(minutes=5), CARD, new_id)

    with engine.connect() as connection:
        [kept] = load_states(connection, 1800).values()
        assert load_states(connection, 3600) == {}
    assert kept.closed_until == T0 + 31 * HOUR
    assert len(kept.history) == 62  # every half hour since the first tweet, from the stored ones
    assert sum(n for _, n in kept.history) == sum(
        1 for at, _, _ in rhythm(2) if at < T0 + 31 * HOUR
    )
