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

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection, Engine

from badbuzz.settings import OpsSettings
from ops.alerts import store_alert
from ops.buzz import BrandState, Buzz, BuzzDetector, BuzzRule, WindowCount
from ops.buzz_counts import window_counts
from ops.buzz_report import buzz_context
from ops.buzz_state import load_states, save_state
from ops.report import BuzzContext, RenderedReport, render_buzz
from ops.rules import BUZZ, Firing


@dataclass(frozen=True)
class WatchRun:
    """What one run of the watch found: the buzzes and the states to store with them."""

    buzzes: list[Buzz]
    states: dict[str, BrandState]


class BuzzWatch:
    def __init__(self, settings: OpsSettings) -> None:
        self.settings = settings
        self.rule = BuzzRule.from_settings(settings.buzz)
        self.detector = BuzzDetector(self.rule)
        self.grace = timedelta(seconds=settings.buzz.grace_seconds)

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
            save_rule_state=keep_state,
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
