"""The bad-buzz detector: per brand, negative predictions per window of event time (the tweet's
own time) against a baseline learned from that brand's own past windows.

Pure: no database, no clock. The live watch (`ops.buzz_watch`) feeds it window counts read
from the predictions table and keeps its state in the database; the replay (`ops.replay`)
feeds it a historical file tweet by tweet and keeps the state in memory. Same code, same
settings, so a back-test says what the live watch would have done.

A window fires when all of these hold (README, "The bad-buzz watch", says why each default):

- the brand has at least `min_history` closed windows: no baseline, no verdict;
- at least `min_negatives` negatives in the window: a handful of angry tweets is not a buzz;
- negatives >= median + z * spread of the past windows' negatives, where spread is the larger
  of 1.4826 * MAD (the robust standard deviation: a past buzz barely moves it) and the Poisson
  standard deviation sqrt(max(median, 1)) (on a quiet brand the MAD is 0);
- the window's negative share >= the baseline's pooled share p + `min_share_rise`, and its
  negatives >= n * p + z * sqrt(n * p * (1 - p)) (a one-sided binomial test on the window's n
  tweets): more tweets of the usual mood is a busy day, not a bad buzz;
- the brand's last alert is at least `cooldown` ago, and was not in this window.

The open window is judged at every negative, so the alert comes with the crossing tweet, not
at the window's end; a window joins the baseline once closed. Empty windows count as zeros.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from badbuzz.settings import OpsSettings

MAD_TO_SD = 1.4826  # MAD * this estimates the standard deviation of normal data
MAX_QUIET_WINDOWS = 100_000  # a longer silence is left out of the replay's list, not filled
SHARE_FLOOR = 0.01  # a baseline share of 0 (or 1) would make any negative infinitely unusual


@dataclass(frozen=True)
class BuzzRule:
    """The detector's constants (`OpsSettings.buzz_*`)."""

    window_s: int
    baseline_windows: int
    min_history: int
    min_negatives: int
    z: float
    min_share_rise: float
    cooldown_s: float

    @classmethod
    def from_settings(cls, settings: OpsSettings) -> BuzzRule:
        return cls(
            window_s=settings.buzz_window_seconds,
            baseline_windows=settings.buzz_baseline_windows,
            min_history=settings.buzz_min_history_windows,
            min_negatives=settings.buzz_min_negatives,
            z=settings.buzz_z,
            min_share_rise=settings.buzz_min_share_rise,
            cooldown_s=settings.buzz_cooldown_seconds,
        )

    @property
    def window(self) -> timedelta:
        return timedelta(seconds=self.window_s)

    def window_start(self, moment: datetime) -> datetime:
        """The start of the window holding `moment`: windows are aligned on the Unix epoch."""
        seconds = math.floor(moment.timestamp())
        return datetime.fromtimestamp(seconds - seconds % self.window_s, UTC)


@dataclass(frozen=True)
class WindowCount:
    start: datetime
    negatives: int
    total: int


@dataclass(frozen=True)
class Baseline:
    """What a brand's window usually holds, from its last closed windows."""

    negatives: float  # median negatives per window
    spread: float  # robust standard deviation of that
    threshold: int  # negatives that alert (with the other conditions)
    share: float  # pooled negative share of those windows
    windows: int  # how many windows it was learned from


@dataclass
class BrandState:
    """All the detector remembers of a brand; the live watch stores it in `buzz_state`."""

    brand: str
    closed_until: datetime | None = None  # end of the last closed window
    history: list[tuple[int, int]] = field(default_factory=list)  # (negatives, total), oldest first
    last_alert_at: datetime | None = None
    last_alert_window: datetime | None = None
    _baseline: Baseline | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Buzz:
    """A window of a brand that crossed its baseline."""

    brand: str
    window_start: datetime
    window_end: datetime
    at: datetime  # when it crossed (the crossing tweet's time, or the live check's)
    negatives: int
    total: int
    baseline: Baseline

    @property
    def share(self) -> float:
        return self.negatives / self.total if self.total else 0.0

    @property
    def summary(self) -> str:
        return (
            f"bad buzz on {self.brand}: {self.negatives} negative tweets in "
            f"{_hours(self.window_end - self.window_start)} ({self.share:.0%}), usually "
            f"{self.baseline.negatives:g} ({self.baseline.share:.0%}); threshold "
            f"{self.baseline.threshold}"
        )


class BuzzDetector:
    def __init__(self, rule: BuzzRule) -> None:
        self.rule = rule

    def close(self, state: BrandState, window: WindowCount) -> None:
        """Add a finished window to the brand's history (the empty windows since the last
        one as zeros); a window already closed is ignored."""
        end = window.start + self.rule.window
        if state.closed_until is not None:
            if end <= state.closed_until:
                return
            gap = (window.start - state.closed_until) // self.rule.window
            state.history.extend([(0, 0)] * min(gap, self.rule.baseline_windows))
        state.history.append((window.negatives, window.total))
        del state.history[: -self.rule.baseline_windows]
        state.closed_until = end
        state._baseline = None

    def baseline(self, state: BrandState) -> Baseline | None:
        if len(state.history) < self.rule.min_history:
            return None
        if state._baseline is None:
            negatives = [k for k, _ in state.history]
            median = statistics.median(negatives)
            mad = statistics.median(abs(k - median) for k in negatives)
            spread = max(MAD_TO_SD * mad, math.sqrt(max(median, 1.0)))
            total = sum(n for _, n in state.history)
            state._baseline = Baseline(
                negatives=float(median),
                spread=spread,
                threshold=max(self.rule.min_negatives, math.ceil(median + self.rule.z * spread)),
                share=sum(negatives) / total if total else 0.0,
                windows=len(state.history),
            )
        return state._baseline

    def judge(self, state: BrandState, window: WindowCount, at: datetime) -> Buzz | None:
        """Whether the (open) window fires now; if it does, the state remembers the alert."""
        if window.negatives < self.rule.min_negatives or not window.total:
            return None
        if state.last_alert_window == window.start or (
            state.last_alert_at is not None
            and (at - state.last_alert_at).total_seconds() < self.rule.cooldown_s
        ):
            return None
        baseline = self.baseline(state)
        if baseline is None or window.negatives < baseline.threshold:
            return None
        if not self._share_rose(window, baseline.share):
            return None
        state.last_alert_at = at
        state.last_alert_window = window.start
        return Buzz(
            brand=state.brand,
            window_start=window.start,
            window_end=window.start + self.rule.window,
            at=at,
            negatives=window.negatives,
            total=window.total,
            baseline=baseline,
        )

    def _share_rose(self, window: WindowCount, usual: float) -> bool:
        """The share is up by `min_share_rise` at least, and by `z` binomial standard
        deviations (a partial window's share is noisy; a few extra tweets are not a rise)."""
        if window.negatives / window.total < usual + self.rule.min_share_rise:
            return False
        p = min(max(usual, SHARE_FLOOR), 1 - SHARE_FLOOR)
        expected = window.total * p
        return window.negatives - expected >= self.rule.z * math.sqrt(expected * (1 - p))


class StreamDetector:
    """The detector over a stream of predictions in event-time order (the replay's way):
    per brand, the open window's counts in memory; each negative is judged as it arrives."""

    def __init__(self, detector: BuzzDetector) -> None:
        self.detector = detector
        self.states: dict[str, BrandState] = {}
        self.open: dict[str, WindowCount] = {}
        self.closed: dict[str, list[WindowCount]] = {}  # every window, for charts and tables

    def observe(self, brand: str, at: datetime, negative: bool) -> Buzz | None:
        start = self.detector.rule.window_start(at)
        state = self.states.get(brand)
        if state is None:
            state = self.states[brand] = BrandState(brand)
        current = self.open.get(brand)
        if current is not None and current.start != start:
            if start < current.start:
                raise ValueError(f"{at.isoformat()} is earlier than the window already open")
            self._close(brand, state, current)
            current = None
        if current is None:
            current = WindowCount(start, 0, 0)
        current = WindowCount(start, current.negatives + negative, current.total + 1)
        self.open[brand] = current
        return self.detector.judge(state, current, at) if negative else None

    def finish(self) -> None:
        """Close every open window (the end of the stream)."""
        for brand, window in self.open.items():
            self._close(brand, self.states[brand], window)
        self.open.clear()

    def _close(self, brand: str, state: BrandState, window: WindowCount) -> None:
        self.detector.close(state, window)
        closed = self.closed.setdefault(brand, [])
        if closed:  # the quiet windows in between, as the detector counts them: zeros
            step = self.detector.rule.window
            quiet = (window.start - closed[-1].start) // step - 1
            if quiet <= MAX_QUIET_WINDOWS:
                closed += [
                    WindowCount(closed[-1].start + step * n, 0, 0) for n in range(1, quiet + 1)
                ]
        closed.append(window)


def _hours(length: timedelta) -> str:
    minutes = length.total_seconds() / 60
    return f"{minutes:g} min" if minutes < 120 else f"{minutes / 60:g} h"
