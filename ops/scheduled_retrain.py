"""The scheduled retrain (`BADBUZZ_RETRAIN_CRON`): `badbuzz retrain --min-new-feedback N` run
by the API process as a child, by one process of several, once per scheduled time, bounded,
with each run's outcome kept in `retrain_runs` for the daily digest.

A child process, not a call: `ops` (and the API that runs it) never imports `training`
(pyproject's import contracts), the fit holds the GIL for minutes that /predict needs, and a
child can be killed at its timeout. The child is the CLI itself, so the rule "enough new
verdicts since the champion" is retrain's own `--min-new-feedback`, not a second copy here;
it writes its outcome to a JSON file (`--outcome-file`), and an error is its `error:` line.

Single runner: a `retrain` lease of its own, renewed while the child runs (a retrain takes
minutes, the `ops` lease lives seconds and changes hands on a hiccup), and a unique row per
scheduled time, so a second process whose scheduler fires a moment later, after the first
one finished, finds the row and does not run it again. A failed run is recorded and waits for
the next scheduled time: never retried in a loop.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from badbuzz.settings import OpsSettings
from ops.database import as_utc, new_id, retrain_runs, utcnow
from ops.lease import Lease
from ops.report import RetrainLine

log = logging.getLogger(__name__)

LEASE = "retrain"
LEASE_TTL_S = 60.0  # renewed every HEARTBEAT_S: a dead holder's lease frees within a minute
HEARTBEAT_S = 10.0
POLL_S = 0.2  # how often the child, the timeout and a shutdown are looked at
STOP_GRACE_S = 10.0  # after SIGTERM, the child's time to stop before SIGKILL
# A run may start this late (a busy process) and still be the run of its scheduled time.
MISFIRE_GRACE_S = 30
OUTCOMES = ("skipped", "promoted", "refused")
MAX_REASON_CHARS = 1000
# `badbuzz retrain` needs the training install: these are absent from the API image.
TRAINING_MODULES = ("training", "mlflow", "pandas", "sklearn")
RETRAIN = (sys.executable, "-c", "from cli import main; main()", "retrain")


def missing_training() -> list[str]:
    """The modules `badbuzz retrain` needs that this install lacks (found, not imported)."""
    return [name for name in TRAINING_MODULES if importlib.util.find_spec(name) is None]


class ScheduledRetrain:
    def __init__(
        self,
        settings: OpsSettings,
        engine: Engine,
        holder: str | None = None,
        command: Sequence[str] = RETRAIN,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.lease = Lease(engine, LEASE, LEASE_TTL_S, holder)
        self.command = list(command)  # `--min-new-feedback N --outcome-file F` are added
        self.timeout_s = settings.retrain.timeout_s
        cron = settings.retrain.cron
        self.trigger = None if cron is None else CronTrigger.from_crontab(cron, timezone=UTC)
        self._stopping = threading.Event()

    def scheduled_time(self, now: datetime) -> datetime:
        """The scheduled time a run starting at `now` is for: the same in every process
        whose scheduler fired for it (up to MISFIRE_GRACE_S late)."""
        if self.trigger is not None:
            due = self.trigger.get_next_fire_time(None, now - timedelta(seconds=MISFIRE_GRACE_S))
            if due is not None and due <= now:
                return as_utc(due)
        return now.replace(second=0, microsecond=0)

    def stop(self) -> None:
        """Stop a run in progress (the process shuts down): its child is terminated."""
        self._stopping.set()

    def run(self, scheduled_for: datetime | None = None) -> RetrainLine | None:
        """Run the retrain for `scheduled_for` (default: the scheduled time now is for); None
        when another process runs it, or ran it already."""
        now = utcnow()
        scheduled_for = scheduled_for or self.scheduled_time(now)
        if not self.lease.acquire():
            return None
        try:
            with self.engine.begin() as connection:
                self._close_interrupted(connection, now)
            run_id = new_id()
            try:
                with self.engine.begin() as connection:
                    connection.execute(
                        insert(retrain_runs).values(
                            id=run_id,
                            scheduled_for=scheduled_for,
                            runner=self.lease.holder,
                            started_at=now,
                            outcome="running",
                        )
                    )
            except IntegrityError:  # another process ran this scheduled time already
                return None
            folder = self.settings.reports_dir / f"retrain-{now:%Y%m%dT%H%M%SZ}-{run_id[:8]}"
            folder.mkdir(parents=True, exist_ok=True)
            try:
                result = self._run_child(folder)
            except OSError as error:  # the command itself could not start
                result = ChildResult("failed", f"could not start {self.command[0]}: {error}", None)
            finished = utcnow()
            with self.engine.begin() as connection:
                connection.execute(
                    update(retrain_runs)
                    .where(retrain_runs.c.id == run_id)
                    .values(
                        finished_at=finished,
                        outcome=result.outcome,
                        reason=result.reason,
                        champion_version=result.champion_version,
                        new_version=result.new_version,
                        exit_code=result.exit_code,
                        output_path=str(folder / "output.txt"),
                    )
                )
        finally:
            self.lease.release()
        level = logging.ERROR if result.outcome == "failed" else logging.INFO
        log.log(
            level, "scheduled retrain %s: %s (output in %s)", result.outcome, result.reason, folder
        )
        return RetrainLine(
            now,
            finished,
            result.outcome,
            result.reason,
            result.champion_version,
            result.new_version,
        )

    def _close_interrupted(self, connection: Connection, now: datetime) -> None:
        """A run still `running` while this process holds the lease lost its process (a
        crash, a kill): it failed, and is not run again."""
        connection.execute(
            update(retrain_runs)
            .where(retrain_runs.c.outcome == "running")
            .values(
                outcome="failed",
                finished_at=now,
                reason="interrupted: the process running it stopped before it finished",
            )
        )

    def _run_child(self, folder: Path) -> ChildResult:
        outcome_file = folder / "outcome.json"
        command = [
            *self.command,
            "--min-new-feedback",
            str(self.settings.retrain.min_new_verdicts),
            "--outcome-file",
            str(outcome_file),
        ]
        output = folder / "output.txt"
        started = time.monotonic()
        with output.open("wb") as sink:
            child = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=self._child_env(),
                start_new_session=True,  # its own process group: a kill reaches its workers
            )
            stopped = self._watch(child, started)
            code = _stop(child) if stopped else child.returncode
        text = output.read_text(encoding="utf-8", errors="replace")
        if stopped:
            return ChildResult("failed", stopped, code)
        if code != 0:
            return ChildResult("failed", f"exit {code}: {_error_line(text)}", code)
        try:
            record = json.loads(outcome_file.read_text(encoding="utf-8"))
            outcome = record["outcome"]
            if outcome not in OUTCOMES:
                raise ValueError(f"unknown outcome {outcome!r}")
        except (OSError, ValueError, KeyError, TypeError) as error:
            return ChildResult("failed", f"exit 0 but no outcome written ({error})", code)
        return ChildResult(
            outcome,
            str(record.get("reason") or ""),
            code,
            _text(record.get("champion_version")),
            _text(record.get("new_version")),
        )

    def _watch(self, child: subprocess.Popen[bytes], started: float) -> str | None:
        """Wait for the child, renewing the lease every HEARTBEAT_S; why it must be stopped
        (its timeout, a shutdown, the lease lost), or None once it exited by itself."""
        renewed = started
        while child.poll() is None:
            now = time.monotonic()
            if now - started > self.timeout_s:
                return (
                    f"killed after {self.timeout_s:g} s (BADBUZZ_RETRAIN_TIMEOUT_S); the next "
                    "scheduled time tries again"
                )
            if now - renewed >= HEARTBEAT_S:
                renewed = now
                if not self._renew():
                    return "stopped: another process took the retrain lease"
            if self._stopping.wait(POLL_S):
                return "stopped: the API process shut down during the run"
        return None

    def _renew(self) -> bool:
        """Keep the lease; a database that does not answer for now is not a lost lease
        (the lease lasts LEASE_TTL_S, and this is tried again at the next heartbeat)."""
        try:
            return self.lease.acquire()
        except DBAPIError as error:
            log.warning("the retrain lease could not be renewed (%s): trying again", error)
            return True

    def _child_env(self) -> dict[str, str]:
        """The shell's environment, with this process's settings where the child reads them
        (the API may have been given them otherwise than by the environment)."""
        env = dict(os.environ)
        env["BADBUZZ_HOME"] = str(self.settings.home)
        env["BADBUZZ_DATABASE_URL"] = self.settings.resolved_database_url
        env["BADBUZZ_MODEL_NAME"] = self.settings.model_name
        if self.settings.mlflow_tracking_uri:
            env["MLFLOW_TRACKING_URI"] = self.settings.mlflow_tracking_uri
        env["NO_COLOR"] = "1"  # plain lines in output.txt
        env["COLUMNS"] = "200"  # rich wraps at 80 where no terminal says otherwise
        return env


@dataclass(frozen=True)
class ChildResult:
    outcome: str
    reason: str
    exit_code: int | None
    champion_version: str | None = None
    new_version: str | None = None


def _stop(child: subprocess.Popen[bytes]) -> int | None:
    """SIGTERM to the child's process group, SIGKILL after STOP_GRACE_S."""
    for sent in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, sent)
        try:
            return child.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            continue
    return None


def _error_line(output: str) -> str:
    """The CLI's `error:` message (a UserError, a missing library: its last words, which
    rich may have wrapped over several lines), else the last line (a traceback's)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    if not lines:
        return "no output"
    starts = [n for n, line in enumerate(lines) if line.startswith("error:")]
    message = " ".join(lines[starts[-1] :]).removeprefix("error:") if starts else lines[-1]
    return message.strip()[:MAX_REASON_CHARS]


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def runs_between(connection: Connection, start: datetime, end: datetime) -> list[RetrainLine]:
    """The runs started in (start, end], oldest first: the digest's."""
    rows = connection.execute(
        select(retrain_runs)
        .where(retrain_runs.c.started_at > start, retrain_runs.c.started_at <= end)
        .order_by(retrain_runs.c.started_at)
    )
    return [
        RetrainLine(
            as_utc(row.started_at),
            None if row.finished_at is None else as_utc(row.finished_at),
            row.outcome,
            row.reason,
            row.champion_version,
            row.new_version,
        )
        for row in rows
    ]
