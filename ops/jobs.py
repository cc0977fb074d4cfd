"""The scheduled work of an API process: APScheduler triggers it, the lease decides who runs
it. Every process schedules every job; the single-runner ones (rule evaluation, the bad-buzz
watch, outbox delivery, digest, retention) do their work only in the process holding the
`ops` lease, so two workers or two replicas on one database send each mail once. Latency
histograms are written by every process (each counts its own requests).

A wrong verdict also triggers the rules at once (`nudge`), so a mail leaves within a check
interval of the flag that completed the window.

Reports are rendered in a child process (started at the first one): a chart is ~100 ms of
Python that, in a thread of the API, would hold the GIL the event loop needs for /predict.
A render has `RENDER_TIMEOUT_S`; a child that crashed or hung is replaced by a new one, so a
lease holder whose renderer died does not stop alerting while it keeps the lease.

The scheduled retrain (`BADBUZZ_RETRAIN_CRON`, opt-in) has a lease of its own and runs
`badbuzz retrain` as a child process: `ops/scheduled_retrain.py`.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import delete
from sqlalchemy.engine import Engine

from badbuzz.settings import OpsSettings
from ops.alerts import record_alert
from ops.buzz_watch import BuzzWatch
from ops.database import new_id, predictions, utcnow
from ops.digest import record_digest
from ops.latency import LatencyRecorder, forget_before
from ops.lease import Lease
from ops.mailer import Mailer
from ops.outbox import deliver_due
from ops.report import (
    AlertContext,
    BuzzContext,
    DigestContext,
    RenderedReport,
    render_alert,
    render_buzz,
    render_digest,
    render_drift,
)
from ops.rules import DRIFT, DriftRule, ErrorWindow, LatencyRule, Rule, ServedReference
from ops.scheduled_retrain import MISFIRE_GRACE_S, ScheduledRetrain, missing_training

log = logging.getLogger(__name__)

Context = TypeVar("Context", AlertContext, DigestContext, BuzzContext)

LEASE = "ops"
OUTBOX_INTERVAL_S = 2.0
LATENCY_FLUSH_INTERVAL_S = 1.0
RENDER_TIMEOUT_S = 60.0  # a report with its chart takes well under a second


class RenderFailed(RuntimeError):
    """The renderer process did not render: it timed out, or crashed twice."""


class OpsJobs:
    def __init__(
        self,
        settings: OpsSettings,
        engine: Engine,
        model_card: Callable[[], Mapping[str, Any] | None],
        latency: LatencyRecorder,
        served_reference: ServedReference = lambda: None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.model_card = model_card
        self.latency = latency
        # a dead holder's work resumes within a few check intervals
        self.lease = Lease(engine, LEASE, max(10.0, 5 * settings.alert.check_interval_s))
        self.rules: list[Rule] = [
            ErrorWindow(
                settings.alert.threshold,
                settings.alert.window_seconds,
                settings.alert.cooldown_seconds,
            ),
            LatencyRule(
                settings.latency.p95_ms / 1000,
                settings.latency.window_seconds,
                settings.latency.min_requests,
                settings.alert.cooldown_seconds,
            ),
            DriftRule(
                served_reference,
                settings.drift.psi,
                settings.drift.z,
                settings.drift.window_seconds,
                settings.drift.min_predictions,
                settings.drift.epsilon,
                settings.drift.cooldown_seconds,
                settings.drift.check_interval_s,
            ),
        ]
        self.buzz = BuzzWatch(settings)
        self.retrain = (
            ScheduledRetrain(settings, engine, holder=self.lease.holder)
            if settings.retrain.cron
            else None
        )
        self.mailer = Mailer(settings) if settings.mail_configured else None
        self.scheduler = BackgroundScheduler(timezone=UTC)
        # the lease separates processes; inside one, the outbox job and a firing rule
        # both deliver, and must not send the same due message twice
        self._delivering = threading.Lock()
        self._renderer: ProcessPoolExecutor | None = None
        self.render_timeout_s = RENDER_TIMEOUT_S

    def start(self) -> None:
        if self.mailer is None:
            log.warning(
                "no mail: BADBUZZ_SMTP_HOST and BADBUZZ_ALERT_TO are not both set; alert "
                "reports are written to %s and kept in the outbox",
                self.settings.reports_dir,
            )
        jobs: list[tuple[Callable[[], object], str, dict[str, Any]]] = [
            (self.check_rules, "alert-rules", {"seconds": self.settings.alert.check_interval_s}),
            (self.check_buzz, "buzz", {"seconds": self.settings.buzz.check_interval_s}),
            (self.deliver, "outbox", {"seconds": OUTBOX_INTERVAL_S}),
            (self.flush_latency, "latency", {"seconds": LATENCY_FLUSH_INTERVAL_S}),
            (self.clean_up, "retention", {"hours": 1}),
        ]
        for work, name, every in jobs:
            self.scheduler.add_job(
                work, "interval", id=name, max_instances=1, coalesce=True, **every
            )
        if self.settings.digest.hour_utc is not None:
            self.scheduler.add_job(
                self.send_digest,
                "cron",
                hour=self.settings.digest.hour_utc,
                id="digest",
                max_instances=1,
                coalesce=True,
            )
        self._schedule_retrain()
        self.scheduler.start()

    def _schedule_retrain(self) -> None:
        """The retrain job where `badbuzz retrain` can run; else say once what to do."""
        if self.retrain is None or self.retrain.trigger is None:
            return
        cron, enough = self.settings.retrain.cron, self.settings.retrain.min_new_verdicts
        if missing := missing_training():
            log.warning(
                "BADBUZZ_RETRAIN_CRON is set, but retraining cannot run in this install: it "
                "needs the training libraries (%s are not installed; the API image has none). "
                "Unset it here and run `badbuzz retrain --min-new-feedback %d` from cron on "
                "the machine that trains (README, 'Retraining from feedback'), or run this "
                "API where badbuzz[train] is installed",
                ", ".join(missing),
                enough,
            )
            return
        self.scheduler.add_job(
            self.retrain.run,
            self.retrain.trigger,
            id="retrain",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=MISFIRE_GRACE_S,
        )
        log.info(
            "scheduled retrain: %s (UTC), when %d verdicts came in since the champion",
            cron,
            enough,
        )

    def stop(self) -> None:
        if self.retrain is not None:
            self.retrain.stop()  # a run in progress ends its child, or shutdown waits for it
        self.scheduler.shutdown(wait=True)
        if self._renderer is not None:
            self._renderer.shutdown(wait=True)
        self.flush_latency()
        self.lease.release()

    def render(self, work: Callable[[Context], RenderedReport], context: Context) -> RenderedReport:
        """`work(context)` in the renderer process, within `render_timeout_s`. A renderer
        found broken (it crashed since the last report, or during this one) is replaced
        and the report tried once more; one that hangs is killed, and `RenderFailed` lets
        the rule fire again at its next check, with a new renderer."""
        try:
            return self._render_once(work, context)
        except BrokenProcessPool as error:
            log.error("the report renderer process died (%s): starting a new one", error)
            self._discard_renderer()
        try:
            return self._render_once(work, context)
        except BrokenProcessPool as error:
            self._discard_renderer()
            raise RenderFailed("the report renderer died twice in a row") from error

    def _render_once(
        self, work: Callable[[Context], RenderedReport], context: Context
    ) -> RenderedReport:
        if self._renderer is None:
            spawn = multiprocessing.get_context("spawn")
            self._renderer = ProcessPoolExecutor(1, mp_context=spawn)
        future = self._renderer.submit(work, context)
        try:
            return future.result(timeout=self.render_timeout_s)
        except FutureTimeout as error:
            log.error(
                "a report took longer than %g s to render: its process is killed",
                self.render_timeout_s,
            )
            self._discard_renderer()
            raise RenderFailed(
                f"the report did not render within {self.render_timeout_s:g} s"
            ) from error

    def _discard_renderer(self) -> None:
        """Kill the renderer's process (it may hang) and forget the pool."""
        pool, self._renderer = self._renderer, None
        if pool is None:
            return
        # Python 3.14 has pool.kill_workers(); before it, the processes are only here
        for process in list(getattr(pool, "_processes", {}).values()):
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)

    def nudge(self) -> None:
        """Evaluate the rules now (a wrong verdict just arrived)."""
        self.scheduler.modify_job("alert-rules", next_run_time=datetime.now(UTC))

    def check_rules(self) -> int:
        """Fire what fires now; returns how many alerts were recorded here."""
        if not self.lease.acquire():
            return 0
        card = dict(self.model_card() or {})
        fired = 0
        for rule in self.rules:
            # the lease makes this process the only one recording: check, then record
            with self.engine.connect() as connection:
                firing = rule.check(connection, utcnow())
            if firing is None:
                continue
            folder = record_alert(
                self.engine,
                firing,
                new_id(),
                card,
                self.settings,
                partial(self.render, render_drift if firing.rule == DRIFT else render_alert),
            )
            fired += 1
            log.warning("alert: %s; report in %s", firing.summary, folder)
        if fired:
            self.deliver()
        return fired

    def check_buzz(self) -> int:
        """Run the bad-buzz watch; returns how many buzz alerts were recorded here."""
        if not self.lease.acquire():
            return 0
        fired = self.buzz.check(
            self.engine,
            utcnow(),
            dict(self.model_card() or {}),
            new_id,
            lambda context: self.render(render_buzz, context),
        )
        for buzz, folder in fired:
            log.warning("alert: %s; report in %s", buzz.summary, folder)
        if fired:
            self.deliver()
        return len(fired)

    def deliver(self) -> None:
        if self.mailer is None or not self.lease.acquire():
            return
        with self._delivering:
            deliver_due(
                self.engine,
                self.mailer,
                self.settings.alert.to,
                self.settings.outbox.max_backoff_s,
                runner=self.lease.holder,
                keep_lease=self.lease.acquire,
                mails_per_hour=self.settings.alert.mails_per_hour,
            )

    def flush_latency(self) -> None:
        self.latency.flush(self.engine, time.time())

    def send_digest(self) -> None:
        if not self.lease.acquire():
            return
        folder = record_digest(
            self.engine,
            utcnow(),
            self.model_card() or {},
            self.settings,
            lambda context: self.render(render_digest, context),
        )
        if folder is not None:
            log.info("daily digest written to %s", folder)
            self.deliver()

    def clean_up(self) -> None:
        """Delete predictions past the retention period, and old latency histograms."""
        if not self.lease.acquire():
            return
        now = utcnow()
        cutoff = now - timedelta(days=self.settings.retention.days)
        with self.engine.begin() as connection:
            gone = connection.execute(
                delete(predictions).where(predictions.c.created_at < cutoff)
            ).rowcount
        window = max(self.settings.latency.window_seconds, 86_400)
        forget_before(self.engine, now - timedelta(seconds=window))
        if gone:
            log.info("retention: deleted %d predictions older than %s", gone, cutoff)
