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
- **Drift**: the served model's predictions of the last `window` seconds against the
  validation scores its bundle was recorded with (`ops.drift`): it fires when the PSI of the
  scores reaches `psi_threshold`, or the |z| of the negative share `z_threshold`; no verdict
  below `min_predictions` predictions, none for a bundle without a reference (logged once
  per version). Its own cooldown, a window long by default, and it reads the window at most
  once per `check_interval` (the rules run every second).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from ops.database import alerts, as_utc, feedback, latency
from ops.drift import measure, reference_of, window_scores
from ops.latency import STORED_BOUNDS

log = logging.getLogger(__name__)

ERROR_WINDOW = "error_window"
LATENCY = "latency"
DRIFT = "drift"
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


def cooling_down(previous: datetime | None, now: datetime, cooldown_s: float) -> bool:
    """Whether a rule that last fired at `previous` must stay quiet at `now`."""
    return previous is not None and now - previous < timedelta(seconds=cooldown_s)


@dataclass(frozen=True)
class ErrorWindow:
    threshold: int
    window_s: float
    cooldown_s: float
    name: str = ERROR_WINDOW

    def check(self, connection: Connection, now: datetime) -> Firing | None:
        start = now - timedelta(seconds=self.window_s)
        previous = last_fired(connection, self.name)
        if cooling_down(previous, now, self.cooldown_s):
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
        if cooling_down(previous, now, self.cooldown_s):
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


# the served model's version and its manifest's drift reference; None: no model loaded
ServedReference = Callable[[], tuple[str, dict[str, Any] | None] | None]


@dataclass(frozen=True)
class DriftRule:
    served: ServedReference
    psi_threshold: float
    z_threshold: float
    window_s: float
    min_predictions: int
    epsilon: float
    cooldown_s: float
    check_interval_s: float = 0.0
    name: str = DRIFT
    _unreferenced: set[str] = field(default_factory=set, compare=False, repr=False)
    _checked: dict[str, datetime] = field(default_factory=dict, compare=False, repr=False)

    def check(self, connection: Connection, now: datetime) -> Firing | None:
        served = self.served()
        if served is None:
            return None
        version, values = served
        reference = reference_of(values)
        if reference is None:
            if version not in self._unreferenced:
                self._unreferenced.add(version)
                log.info(
                    "drift watch off for model version %s: its bundle has no drift reference "
                    "(recorded before it was added; retrain to get one)",
                    version,
                )
            return None
        last = self._checked.get(version)
        if last is not None and now - last < timedelta(seconds=self.check_interval_s):
            return None  # an hour's window moves little in a check interval: spare the query
        self._checked[version] = now
        previous = last_fired(connection, self.name)
        if cooling_down(previous, now, self.cooldown_s):
            return None
        start = now - timedelta(seconds=self.window_s)
        scores = window_scores(connection, version, start, now, reference)
        if scores.count < self.min_predictions:
            return None
        drift = measure(scores, reference, self.epsilon)
        if drift.psi < self.psi_threshold and abs(drift.z) < self.z_threshold:
            return None
        minutes = self.window_s / 60
        return Firing(
            self.name,
            start,
            now,
            drift.psi,
            self.psi_threshold,
            f"model version {version} drifted over {scores.count} predictions in {minutes:g} "
            f"min: PSI {drift.psi:.3f} (threshold {self.psi_threshold:g}), negative share "
            f"{scores.negative_share:.1%} against {reference.negative_share:.1%} on validation "
            f"(z {drift.z:+.1f}, threshold {self.z_threshold:g})",
        )
