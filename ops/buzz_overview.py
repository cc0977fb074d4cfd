"""The `/buzz` read model: negatives and tweets per brand and window over the last hours, what
the watch expects of each window (or that it is still learning the brand), and the buzz
alerts of that time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Connection

from ops.alerts import AlertRecord, recent_alerts
from ops.buzz import Baseline, BrandState, WindowCount
from ops.buzz_counts import window_counts
from ops.buzz_watch import BuzzWatch
from ops.database import alerts
from ops.rules import BUZZ


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
