"""The live bad-buzz watch: the detector (`ops.buzz`) over the predictions the API stores,
by the tweets' own time, with its state in the database (`buzz_state`), so a restart keeps
every brand's baseline, its closed windows and its cooldown.

Each run (a single-runner job, `ops.jobs`) reads the counts per brand and window since the
last closed window, closes the windows that ended more than `grace` ago (late tweets still
count in them until then), and judges the windows still open, so an alert follows the
crossing tweet within a check interval. A firing window's alert, report and mail are stored
in one transaction with the brand's new state (`ops.alerts.store_alert`): a crash leaves
either both or neither, so no buzz is mailed twice or lost. The first run learns every
brand's baseline from the predictions of the last `baseline_windows` windows.

Predictions stored before the watch existed have no tweet time or brand: it does not count
them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, case, func, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from badbuzz.settings import OpsSettings
from ops.alerts import AlertRecord, recent_alerts, store_alert
from ops.buzz import Baseline, BrandState, Buzz, BuzzDetector, BuzzRule, WindowCount
from ops.database import alerts, as_utc, buzz_state, predictions
from ops.report import BrandHour, BuzzContext, BuzzTweet, RenderedReport, render_buzz
from ops.rules import BUZZ, Firing
from ops.trending import grown_terms

TOP_TWEETS = 5
CHART_HOURS = 48
TERMS_BEFORE = timedelta(days=1)  # the words of a buzz are compared with the day before
MAX_TEXTS = 20_000  # tweets read for the words: enough for any window on one box


class _EpochSeconds(FunctionElement[int]):
    """Whole seconds since the Unix epoch of a UTC timestamp column, in each dialect."""

    type = BigInteger()
    inherit_cache = True


@compiles(_EpochSeconds, "sqlite")
def _epoch_sqlite(element: _EpochSeconds, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(strftime('%s', {compiler.process(element.clauses, **kw)}) AS INTEGER)"


@compiles(_EpochSeconds)
def _epoch_default(element: _EpochSeconds, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(floor(extract(epoch from {compiler.process(element.clauses, **kw)})) AS BIGINT)"


Counts = dict[tuple[str, datetime], tuple[int, int]]  # (brand, window start) -> (neg, total)


def window_counts(
    connection: Connection,
    seconds: int,
    since: datetime,
    until: datetime,
    brand: str | None = None,
) -> Counts:
    """Negatives and tweets per brand and window of `seconds` (aligned on the epoch), for
    the tweets posted in [since, until)."""
    bucket = (_EpochSeconds(predictions.c.tweeted_at) // seconds).label("bucket")
    negative = func.sum(case((predictions.c.label == "negative", 1), else_=0))
    query = (
        select(predictions.c.brand, bucket, negative, func.count())
        .where(predictions.c.tweeted_at >= since, predictions.c.tweeted_at < until)
        .group_by(predictions.c.brand, bucket)
    )
    if brand is not None:
        query = query.where(predictions.c.brand == brand)
    epoch = datetime.fromtimestamp(0, since.tzinfo)
    return {
        (row[0], epoch + timedelta(seconds=int(row[1]) * seconds)): (int(row[2]), int(row[3]))
        for row in connection.execute(query)
        if row[0] is not None
    }


def load_states(connection: Connection, window_s: int) -> dict[str, BrandState]:
    """Every brand's stored state, where it was kept in windows of `window_s` (after a change
    of BADBUZZ_BUZZ_WINDOW_SECONDS the baseline is learned again from the predictions)."""
    states = {}
    for row in connection.execute(
        select(buzz_state).where(buzz_state.c.window_seconds == window_s)
    ):
        states[row.brand] = BrandState(
            brand=row.brand,
            closed_until=as_utc(row.closed_until) if row.closed_until else None,
            history=[(int(k), int(n)) for k, n in json.loads(row.history)],
            last_alert_at=as_utc(row.last_alert_at) if row.last_alert_at else None,
            last_alert_window=as_utc(row.last_alert_window) if row.last_alert_window else None,
        )
    return states


def save_state(connection: Connection, state: BrandState, window_s: int, now: datetime) -> None:
    """Insert or update; only the lease holder writes, so no two runners race here."""
    values = {
        "window_seconds": window_s,
        "closed_until": state.closed_until,
        "history": json.dumps(state.history, separators=(",", ":")),
        "last_alert_at": state.last_alert_at,
        "last_alert_window": state.last_alert_window,
        "updated_at": now,
    }
    updated = connection.execute(
        update(buzz_state).where(buzz_state.c.brand == state.brand).values(**values)
    ).rowcount
    if not updated:
        connection.execute(insert(buzz_state).values(brand=state.brand, **values))


@dataclass(frozen=True)
class WatchRun:
    """What one run of the watch found: the buzzes and the states to store with them."""

    buzzes: list[Buzz]
    states: dict[str, BrandState]


class BuzzWatch:
    def __init__(self, settings: OpsSettings) -> None:
        self.settings = settings
        self.rule = BuzzRule.from_settings(settings)
        self.detector = BuzzDetector(self.rule)
        self.grace = timedelta(seconds=settings.buzz_grace_seconds)

    def scan(self, connection: Connection, now: datetime) -> WatchRun:
        """Close what ended, judge what is open; the states are not stored yet."""
        rule, window = self.rule, self.rule.window
        cutoff = rule.window_start(now - self.grace)  # windows before it are closed
        current = rule.window_start(now)
        horizon = cutoff - window * rule.baseline_windows
        states = load_states(connection, rule.window_s)
        since = min((s.closed_until for s in states.values() if s.closed_until), default=horizon)
        # tweets dated after now (a clock ahead) wait for their time, as a replay has them
        counts = window_counts(connection, rule.window_s, max(since, horizon), now)
        buzzes = []
        for brand in sorted(set(states) | {brand for brand, _ in counts}):
            state = states.setdefault(brand, BrandState(brand))
            first = state.closed_until or min(start for b, start in counts if b == brand)
            start = max(first, horizon)
            while start < cutoff:
                self.detector.close(state, WindowCount(start, *counts.get((brand, start), (0, 0))))
                start += window
            still_open: tuple[WindowCount, ...] = ()
            while start <= current:
                count = WindowCount(start, *counts.get((brand, start), (0, 0)))
                if buzz := self.detector.judge(state, count, now, still_open):
                    buzzes.append(buzz)
                still_open += (count,)
                start += window
        # a brand none of whose windows closed yet has nothing to remember
        return WatchRun(buzzes, {b: s for b, s in states.items() if s.closed_until})

    def check(
        self,
        engine: Engine,
        now: datetime,
        model_card: Mapping[str, Any],
        new_id: Callable[[], str],
        render: Callable[[BuzzContext], RenderedReport] = render_buzz,
    ) -> list[tuple[Buzz, Path]]:
        """One run: store every brand's state, and each buzz's alert with it."""
        with engine.connect() as connection:
            run = self.scan(connection, now)
        fired = {buzz.brand: buzz for buzz in run.buzzes}
        with engine.begin() as connection:
            for brand, state in run.states.items():
                if brand not in fired:
                    save_state(connection, state, self.rule.window_s, now)
        recorded = []
        for brand, buzz in fired.items():
            kept = run.states.get(brand)
            folder = self.record(engine, buzz, new_id(), model_card, render, kept, now)
            recorded.append((buzz, folder))
        return recorded

    def record(
        self,
        engine: Engine,
        buzz: Buzz,
        alert_id: str,
        model_card: Mapping[str, Any],
        render: Callable[[BuzzContext], RenderedReport],
        state: BrandState | None,
        now: datetime,
    ) -> Path:
        with engine.connect() as connection:
            context = buzz_context(connection, buzz, alert_id, model_card, self.expected_of(state))
        firing = Firing(
            BUZZ,
            buzz.window_start,
            buzz.window_end,
            buzz.negatives,
            buzz.baseline.threshold,
            buzz.summary,
            brand=buzz.brand,
            baseline=buzz.baseline.negatives,
        )

        def keep_state(connection: Connection) -> None:
            if state is not None:
                save_state(connection, state, self.rule.window_s, now)

        return store_alert(
            engine,
            firing,
            alert_id,
            model_card,
            self.settings,
            render(context),
            buzz.at,
            keep_state,
        )

    def expected_of(
        self, state: BrandState | None
    ) -> Callable[[datetime], tuple[float, int] | None]:
        """The expected negatives and the threshold of a window of the brand, by its start."""

        def expected(start: datetime) -> tuple[float, int] | None:
            baseline = self.detector.baseline(state, start) if state is not None else None
            return None if baseline is None else (baseline.negatives, baseline.threshold)

        return expected

    def states(self, connection: Connection) -> dict[str, BrandState]:
        return load_states(connection, self.rule.window_s)


def buzz_context(
    connection: Connection,
    buzz: Buzz,
    alert_id: str,
    model_card: Mapping[str, Any],
    expected: Callable[[datetime], tuple[float, int] | None],
) -> BuzzContext:
    in_window = (
        predictions.c.brand == buzz.brand,
        predictions.c.label == "negative",
        predictions.c.tweeted_at >= buzz.window_start,
        predictions.c.tweeted_at < min(buzz.window_end, buzz.at),  # what the detector saw
    )
    tweets = [
        BuzzTweet(row.text, row.probability_positive, as_utc(row.tweeted_at))
        for row in connection.execute(
            select(predictions.c.text, predictions.c.probability_positive, predictions.c.tweeted_at)
            .where(*in_window)
            .order_by(predictions.c.probability_positive, predictions.c.tweeted_at)
            .limit(TOP_TWEETS)
        )
    ]
    window_texts: Sequence[str] = (
        connection.execute(select(predictions.c.text).where(*in_window).limit(MAX_TEXTS))
        .scalars()
        .all()
    )
    before_start = buzz.window_start - TERMS_BEFORE
    before_texts: Sequence[str] = (
        connection.execute(
            select(predictions.c.text)
            .where(
                predictions.c.brand == buzz.brand,
                predictions.c.label == "negative",
                predictions.c.tweeted_at >= before_start,
                predictions.c.tweeted_at < buzz.window_start,
            )
            .limit(MAX_TEXTS)
        )
        .scalars()
        .all()
    )
    terms = grown_terms(
        window_texts, before_texts, TERMS_BEFORE / (buzz.window_end - buzz.window_start)
    )
    last_hour = buzz.at.replace(minute=0, second=0, microsecond=0)
    first_hour = last_hour - timedelta(hours=CHART_HOURS - 1)
    hourly = window_counts(connection, 3600, first_hour, buzz.at, buzz.brand)
    hours = [first_hour + timedelta(hours=n) for n in range(CHART_HOURS)]
    return BuzzContext(
        alert_id=alert_id,
        brand=buzz.brand,
        fired_at=buzz.at,
        window_start=buzz.window_start,
        window_end=buzz.window_end,
        negatives=buzz.negatives,
        total=buzz.total,
        expected=buzz.baseline.negatives,
        threshold=buzz.baseline.threshold,
        baseline_share=buzz.baseline.share,
        baseline_days=buzz.baseline.days,
        span_negatives=buzz.span_negatives,
        span_expected=buzz.span_expected,
        span_hours=buzz.span_hours,
        reason=buzz.reason,
        summary=buzz.summary,
        tweets=tweets,
        terms=terms,
        model_card=dict(model_card),
        hours=[
            BrandHour(hour, *hourly.get((buzz.brand, hour), (0, 0)), *_band(expected, hour, buzz))
            for hour in hours
        ],
    )


def _band(
    expected: Callable[[datetime], tuple[float, int] | None], hour: datetime, buzz: Buzz
) -> tuple[float | None, int | None]:
    """The chart's expected band for an hour: only where the windows are hours."""
    if buzz.window_end - buzz.window_start != timedelta(hours=1):
        return None, None
    return expected(hour) or (None, None)


@dataclass(frozen=True)
class BrandActivity:
    brand: str
    baseline: Baseline | None  # what the current window should hold; None: learning
    learning: str | None  # why the brand gets no verdict yet
    windows: list[WindowCount]  # oldest first, empty windows included
    expected: list[float | None]  # per window: the negatives expected (None: learning)


@dataclass(frozen=True)
class BuzzOverview:
    window_seconds: int
    since: datetime
    until: datetime
    brands: list[BrandActivity]
    alerts: list[AlertRecord]


def buzz_overview(
    connection: Connection,
    watch: BuzzWatch,
    now: datetime,
    hours: int,
    brand: str | None = None,
    max_alerts: int = 100,
) -> BuzzOverview:
    """Negatives and tweets per brand and window over the last `hours` (by the tweets' time),
    each brand's baseline, and the buzz alerts of that time, newest first."""
    rule = watch.rule
    current = rule.window_start(now)
    since = rule.window_start(now - timedelta(hours=hours)) + rule.window
    counts = window_counts(connection, rule.window_s, since, now, brand)  # as the watch sees
    states = watch.states(connection)
    names = {b for b, _ in counts} | ({brand} if brand else set(states))
    starts = [since + rule.window * n for n in range((current - since) // rule.window + 1)]
    activity = []
    for name in sorted(names):
        state = states.get(name, BrandState(name))
        learning = watch.detector.learning(state)
        baseline = (
            None
            if learning or state.closed_until is None
            else (watch.detector.baseline(state, current))
        )
        expected = watch.expected_of(state if state.closed_until else None)
        activity.append(
            BrandActivity(
                name,
                baseline,
                learning,
                [WindowCount(start, *counts.get((name, start), (0, 0))) for start in starts],
                [None if (e := expected(start)) is None else e[0] for start in starts],
            )
        )
    where = [alerts.c.rule == BUZZ, alerts.c.window_end > since]
    if brand is not None:
        where.append(alerts.c.brand == brand)
    return BuzzOverview(
        rule.window_s,
        since,
        current + rule.window,
        activity,
        recent_alerts(connection, max_alerts, *where),
    )
