"""The alert rules. Each reads the database and says whether it fires now; the state they
need is rows already there (feedback, latency, earlier alerts), so a restart neither forgets
the last minutes nor fires twice.

- **Error window**: wrong verdicts in the last `window` seconds; at `threshold` it fires, once.
  Verdicts already counted by an earlier alert of the rule never count again, and after an
  alert the rule stays quiet for `cooldown` seconds, so a problem that lasts sends one mail,
  then one per cooldown, not one per flag.
- **Latency**: the p95 of `/predict` over the last `window` seconds, from the per-second
  histograms every API process writes (`ops.latency`). It fires when the histogram bucket
  holding the p95 starts at or above `threshold` (so the p95 is surely over it: keep the
  threshold on a bucket bound, as the default is); no verdict below `min_requests`
  requests. Same cooldown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from ops.database import alerts, as_utc, feedback, latency
from ops.latency import STORED_BOUNDS

ERROR_WINDOW = "error_window"
LATENCY = "latency"
BUZZ = "buzz"  # ops.buzz_watch: not a Rule here, its state is its own


@dataclass(frozen=True)
class Firing:
    """A rule's decision to alert, with what it saw."""

    rule: str
    window_start: datetime
    window_end: datetime
    observed: float
    threshold: float
    summary: str
    feedback_ids: list[str] = field(default_factory=list)
    brand: str | None = None  # a bad buzz's brand
    baseline: float | None = None  # ...and the negatives its windows usually have


class Rule(Protocol):
    @property
    def name(self) -> str: ...

    def check(self, connection: Connection, now: datetime) -> Firing | None: ...


def last_fired(connection: Connection, rule: str) -> datetime | None:
    moment: datetime | None = connection.execute(
        select(func.max(alerts.c.fired_at)).where(alerts.c.rule == rule)
    ).scalar_one()
    return None if moment is None else as_utc(moment)


@dataclass(frozen=True)
class ErrorWindow:
    threshold: int
    window_s: float
    cooldown_s: float
    name: str = ERROR_WINDOW

    def check(self, connection: Connection, now: datetime) -> Firing | None:
        start = now - timedelta(seconds=self.window_s)
        previous = last_fired(connection, self.name)
        if previous is not None and now - previous < timedelta(seconds=self.cooldown_s):
            return None
        since = start if previous is None else max(start, previous)
        rows = connection.execute(
            select(feedback.c.id)
            .where(
                feedback.c.correct.is_(False),
                feedback.c.created_at > since,
                feedback.c.created_at <= now,
            )
            .order_by(feedback.c.created_at)
        ).all()
        if len(rows) < self.threshold:
            return None
        minutes = self.window_s / 60
        return Firing(
            self.name,
            start,
            now,
            len(rows),
            self.threshold,
            f"{len(rows)} predictions flagged wrong within {minutes:g} min "
            f"(threshold {self.threshold})",
            [row.id for row in rows],
        )


def p95_bucket(counts: dict[float, int]) -> tuple[float, float]:
    """(lower, upper] bounds of the histogram bucket that holds the 95th percentile;
    `counts` maps stored upper bounds (`ops.latency`) to requests."""
    total = sum(counts.values())
    seen = 0
    for bound in sorted(counts):
        seen += counts[bound]
        if seen >= 0.95 * total:
            break
    index = STORED_BOUNDS.index(bound)
    return (STORED_BOUNDS[index - 1] if index else 0.0), bound


@dataclass(frozen=True)
class LatencyRule:
    threshold_s: float
    window_s: float
    min_requests: int
    cooldown_s: float
    name: str = LATENCY

    def check(self, connection: Connection, now: datetime) -> Firing | None:
        previous = last_fired(connection, self.name)
        if previous is not None and now - previous < timedelta(seconds=self.cooldown_s):
            return None
        start = now - timedelta(seconds=self.window_s)
        rows = connection.execute(
            select(latency.c.upper_bound_s, func.sum(latency.c.count).label("requests"))
            .where(latency.c.second > start, latency.c.second <= now)
            .group_by(latency.c.upper_bound_s)
        ).all()
        counts = {float(row.upper_bound_s): int(row.requests) for row in rows}
        requests = sum(counts.values())
        if requests < self.min_requests:
            return None
        lower, _ = p95_bucket(counts)
        if lower < self.threshold_s:  # the p95 may still be under the threshold
            return None
        return Firing(
            self.name,
            start,
            now,
            lower * 1000,
            self.threshold_s * 1000,
            f"/predict p95 latency over {lower * 1000:g} ms across {requests} requests "
            f"(threshold {self.threshold_s * 1000:g} ms)",
        )
