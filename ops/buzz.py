"""The bad-buzz detector: per brand, negative predictions per window of event time (the tweet's
own time) against what the brand's own past says this time of day should hold.

Pure: no database, no clock. The live watch (`ops.buzz_watch`) feeds it window counts read
from the predictions table and keeps its state in the database; the replay (`ops.replay`)
feeds it a historical file tweet by tweet and keeps the state in memory. Same code, same
settings, so a back-test says what the live watch would have done.

Real mentions have a daily rhythm (an airline gets 20 complaints an hour by day and almost
none at night) and are over-dispersed (a bad afternoon is not rare). So, as in outbreak
detection (Farrington et al. 1996: comparable periods of the past, a quasi-Poisson upper
limit), a window is compared with the *same time of day* on the brand's past days:

- expected negatives: the trimmed mean of the brand's counts in the same window and its two
  neighbours on each past day (up to a week): 9 to 21 values, the highest and lowest sixth
  left out, so one past bad day does not raise the bar;
- over-dispersion: the median Pearson residual of the brand's recent windows against their own
  expectation, scaled to a variance ratio (1: Poisson; real airline mentions: 1.5 to 3);
- the threshold: the count whose negative-binomial upper tail is the one-sided normal tail of
  `z` standard deviations (z 4: 3e-5, about one window in 30,000 when nothing happens).

A window fires at the negative tweet that crosses, when the brand has a history and the last
alert is `cooldown` ago and in another window, and either:

- **volume**: the window's negatives reach the threshold *and* `min_ratio` times the expected
  *and* `min_negatives`, or the last `long_windows` windows together do the same against their
  summed expectation while the window itself is above its own (a slow pile-up that no single
  hour shows, still going on); complaints are already 70 to
  90 % of an airline's mentions, so a surge doubles the volume at the same share;
- **share**: at least `min_negatives`, a share `min_share_rise` above the comparable windows'
  pooled share, and `z` binomial standard deviations above it (the mood turned, not the volume).

A brand with fewer than `min_history_days` past days, each of `min_daily_tweets` tweets or more,
gets no verdict (learning): a brand that appears from nothing is a new source, not a buzz.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from badbuzz.settings import BuzzSettings
from ops.count_tail import tail_probability, upper_quantile

log = logging.getLogger(__name__)

DAY_S = 86_400
MAX_QUIET_WINDOWS = 100_000  # a longer silence is left out of the replay's list, not filled
SHARE_FLOOR = 0.01  # a baseline share of 0 (or 1) would make any negative infinitely unusual
NEIGHBOURS = (-1, 0, 1)  # the same window of a past day and the ones either side of it
TRIM = 6  # the highest and lowest sixth of the comparable windows are left out of the mean
DISPERSION_DAYS = 3  # recent days whose residuals estimate the over-dispersion
MEDIAN_CHI2 = 0.4549  # the median of a chi-square with one degree of freedom
MAX_DISPERSION = 10.0


@dataclass(frozen=True)
class BuzzRule:
    """The detector's constants (`BuzzSettings`, `BADBUZZ_BUZZ_*`)."""

    window_s: int
    baseline_windows: int
    min_history_days: int
    min_daily_tweets: int
    min_negatives: int
    z: float
    min_ratio: float
    long_windows: int
    min_share_rise: float
    cooldown_s: float

    @classmethod
    def from_settings(cls, settings: BuzzSettings) -> BuzzRule:
        return cls(
            window_s=settings.window_seconds,
            baseline_windows=settings.baseline_windows,
            min_history_days=settings.min_history_days,
            min_daily_tweets=settings.min_daily_tweets,
            min_negatives=settings.min_negatives,
            z=settings.z,
            min_ratio=settings.min_ratio,
            long_windows=settings.long_windows,
            min_share_rise=settings.min_share_rise,
            cooldown_s=settings.cooldown_seconds,
        )

    @property
    def window(self) -> timedelta:
        return timedelta(seconds=self.window_s)

    @property
    def per_day(self) -> int:
        return DAY_S // self.window_s

    @property
    def alpha(self) -> float:
        return tail_probability(self.z)

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
    """What a brand's window at this time of day usually holds."""

    negatives: float  # expected negatives in the window
    threshold: int  # negatives that alert on volume
    share: float  # pooled negative share of the comparable windows
    days: int  # past days it was learned from
    dispersion: float  # variance / mean of the brand's counts (1: Poisson)


@dataclass
class BrandState:
    """All the detector remembers of a brand; the live watch stores it in `buzz_state`."""

    brand: str
    closed_until: datetime | None = None  # end of the last closed window
    history: list[tuple[int, int]] = field(default_factory=list)  # (negatives, total), oldest first
    last_alert_at: datetime | None = None
    last_alert_window: datetime | None = None
    _cache: dict[datetime, Baseline | None] = field(default_factory=dict, repr=False, compare=False)
    _dispersion: float | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Buzz:
    """A window of a brand that crossed what it usually holds."""

    brand: str
    window_start: datetime
    window_end: datetime
    at: datetime  # when it crossed (the crossing tweet's time, or the live check's)
    negatives: int
    total: int
    baseline: Baseline
    span_negatives: int  # negatives of the last `long_windows` windows, this one included
    span_expected: float
    span_hours: float
    reason: str  # "volume", "pile-up" or "share"

    @property
    def share(self) -> float:
        return self.negatives / self.total if self.total else 0.0

    @property
    def ratio(self) -> float:
        return self.negatives / max(self.baseline.negatives, 1.0)

    @property
    def summary(self) -> str:
        """Why, in words a person reads."""
        window = f"{self.window_start:%H:%M}-{self.window_end:%H:%M}"
        text = (
            f"{self.brand}: {self.negatives} negative tweets {window}, about "
            f"{self.baseline.negatives:.0f} expected at this hour; {self.ratio:.1f}x; "
            f"{self.span_hours:g}-hour total {self.span_negatives} vs {self.span_expected:.0f}"
        )
        if self.reason == "share":
            text += f"; {self.share:.0%} negative, usually {self.baseline.share:.0%}"
        return text


class BuzzDetector:
    def __init__(self, rule: BuzzRule) -> None:
        if DAY_S % rule.window_s:
            raise ValueError(f"a window of {rule.window_s} s does not divide a day")
        self.rule = rule
        self._announced: set[str] = set()

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
        state._cache.clear()
        state._dispersion = None

    def learning(self, state: BrandState) -> str | None:
        """Why the brand gets no verdict yet, or None once it has a history."""
        days, per_day = self.rule.min_history_days, self.rule.per_day
        totals = [
            sum(n for _, n in state.history[len(state.history) - (d + 1) * per_day :][:per_day])
            for d in range(days)
        ]
        if len(state.history) >= days * per_day and min(totals) >= self.rule.min_daily_tweets:
            return None
        return (
            f"learning: {days} days of at least {self.rule.min_daily_tweets} tweets are needed "
            f"before a verdict (a new source or a gap in collection is not a buzz)"
        )

    def baseline(self, state: BrandState, start: datetime) -> Baseline | None:
        """What the window starting at `start` should hold, or None while the brand learns."""
        if start in state._cache:
            return state._cache[start]
        baseline = None
        if self.learning(state) is None:
            negatives, totals, days = self._comparable(state, start)
            if days:
                dispersion = self._dispersion(state)
                expected = _trimmed_mean(negatives)
                baseline = Baseline(
                    negatives=expected,
                    threshold=self._threshold(expected, dispersion),
                    share=float(negatives.sum() / totals.sum()) if totals.sum() else 0.0,
                    days=days,
                    dispersion=dispersion,
                )
        state._cache[start] = baseline
        return baseline

    def judge(
        self,
        state: BrandState,
        window: WindowCount,
        at: datetime,
        earlier: tuple[WindowCount, ...] = (),
    ) -> Buzz | None:
        """Whether the (open) window fires now; `earlier`: the open windows before it (the live
        watch keeps a window open a grace period after its end). If it fires, the state
        remembers the alert."""
        if window.negatives < self.rule.min_negatives or not window.total:
            return None
        if state.last_alert_window == window.start or (
            state.last_alert_at is not None
            and (at - state.last_alert_at).total_seconds() < self.rule.cooldown_s
        ):
            return None
        if (why := self.learning(state)) is not None:
            if state.brand not in self._announced:
                self._announced.add(state.brand)
                log.info("bad-buzz watch: no verdict on %s yet, %s", state.brand, why)
            return None
        baseline = self.baseline(state, window.start)
        if baseline is None:
            return None
        span_negatives, span_expected, span_windows = self._span(state, window, earlier)
        if window.negatives >= baseline.threshold:
            reason = "volume"
        elif window.negatives > baseline.negatives and span_negatives >= self._threshold(
            span_expected, baseline.dispersion
        ):  # still piling up, not the trail of a surge that is over
            reason = "pile-up"
        elif self._share_rose(window, baseline.share):
            reason = "share"
        else:
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
            span_negatives=span_negatives,
            span_expected=span_expected,
            span_hours=span_windows * self.rule.window_s / 3600,
            reason=reason,
        )

    def _threshold(self, expected: float, dispersion: float) -> int:
        return max(
            self.rule.min_negatives,
            math.ceil(self.rule.min_ratio * expected),
            upper_quantile(expected, dispersion, self.rule.alpha),
        )

    def _comparable(self, state: BrandState, start: datetime) -> tuple[np.ndarray, np.ndarray, int]:
        """The negatives and totals of the same window and its neighbours on each past day
        held in the history, and how many days those are."""
        assert state.closed_until is not None
        at = self._index(state, start)
        kept, days = [], 0
        for day in range(1, len(state.history) // self.rule.per_day + 1):
            same = [at - day * self.rule.per_day + s for s in NEIGHBOURS]
            inside = [i for i in same if 0 <= i < len(state.history)]
            kept += inside
            days += bool(inside)
        if not kept:
            return np.zeros(0), np.zeros(0), 0
        counts = np.asarray(state.history, dtype=float)[kept]
        return counts[:, 0], counts[:, 1], days

    def _dispersion(self, state: BrandState) -> float:
        """Variance over mean of the brand's counts around their expectation: the median of
        the Pearson residuals of its last days (robust to a past buzz), over a chi-square's."""
        if state._dispersion is None:
            history = np.asarray([k for k, _ in state.history], dtype=float)
            per_day = self.rule.per_day
            residuals = []
            first = max(per_day, len(history) - DISPERSION_DAYS * per_day)
            for index in range(first, len(history)):
                indices = [
                    index - day * per_day + shift
                    for day in range(1, index // per_day + 1)
                    for shift in NEIGHBOURS
                ]
                values = history[[i for i in indices if 0 <= i < len(history)]]
                expected = _trimmed_mean(values)
                residuals.append((history[index] - expected) ** 2 / max(expected, 1.0))
            ratio = float(np.median(residuals)) / MEDIAN_CHI2 if residuals else 1.0
            state._dispersion = min(max(ratio, 1.0), MAX_DISPERSION)
        return state._dispersion

    def _span(
        self, state: BrandState, window: WindowCount, earlier: tuple[WindowCount, ...]
    ) -> tuple[int, float, int]:
        """Negatives and expected negatives of the last `long_windows` windows to `window`,
        and how many windows that is: none from the last alert's window back, so a surge
        already told is not told again from its trail."""
        negatives, expected, windows = 0, 0.0, 0
        open_counts = {w.start: w.negatives for w in earlier} | {window.start: window.negatives}
        for back in range(self.rule.long_windows):
            start = window.start - self.rule.window * back
            if state.last_alert_window is not None and start <= state.last_alert_window:
                break
            if start in open_counts:
                negatives += open_counts[start]
            else:
                negatives += self._closed_negatives(state, start)
            baseline = self.baseline(state, start)
            expected += baseline.negatives if baseline is not None else 0.0
            windows += 1
        return negatives, expected, windows

    def _closed_negatives(self, state: BrandState, start: datetime) -> int:
        if state.closed_until is None or start >= state.closed_until:
            return 0
        index = self._index(state, start)
        return state.history[index][0] if 0 <= index < len(state.history) else 0

    def _index(self, state: BrandState, start: datetime) -> int:
        """The history index the window starting at `start` has (or will have once closed)."""
        assert state.closed_until is not None
        return len(state.history) - (state.closed_until - start) // self.rule.window

    def _share_rose(self, window: WindowCount, usual: float) -> bool:
        """The share is up by `min_share_rise` at least, and by `z` binomial standard
        deviations (a partial window's share is noisy; a few extra tweets are not a rise)."""
        if window.negatives / window.total < usual + self.rule.min_share_rise:
            return False
        p = min(max(usual, SHARE_FLOOR), 1 - SHARE_FLOOR)
        expected = window.total * p
        return window.negatives - expected >= self.rule.z * math.sqrt(expected * (1 - p))


def _trimmed_mean(values: np.ndarray) -> float:
    if not len(values):
        return 0.0
    cut = len(values) // TRIM
    ordered = np.sort(values)
    return float(ordered[cut : len(ordered) - cut].mean())


@dataclass(frozen=True)
class ExpectedWindow:
    """A closed window of the replay with what the detector expected of it (None: learning)."""

    count: WindowCount
    expected: float | None
    threshold: int | None


class StreamDetector:
    """The detector over a stream of predictions in event-time order (the replay's way):
    per brand, the open window's counts in memory; each negative is judged as it arrives."""

    def __init__(self, detector: BuzzDetector) -> None:
        self.detector = detector
        self.states: dict[str, BrandState] = {}
        self.open: dict[str, WindowCount] = {}
        self.closed: dict[str, list[ExpectedWindow]] = {}  # every window, for charts and tables

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
        closed = self.closed.setdefault(brand, [])
        if closed:  # the quiet windows in between, as the detector counts them: zeros
            step = self.detector.rule.window
            quiet = (window.start - closed[-1].count.start) // step - 1
            if quiet <= MAX_QUIET_WINDOWS:
                for _ in range(quiet):
                    start = closed[-1].count.start + step
                    closed.append(self._expected(state, WindowCount(start, 0, 0)))
        closed.append(self._expected(state, window))
        self.detector.close(state, window)

    def _expected(self, state: BrandState, window: WindowCount) -> ExpectedWindow:
        baseline = None
        if state.closed_until is not None and window.start >= state.closed_until:
            baseline = self.detector.baseline(state, window.start)
        if baseline is None:
            return ExpectedWindow(window, None, None)
        return ExpectedWindow(window, baseline.negatives, baseline.threshold)
