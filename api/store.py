"""Predictions and user feedback, in SQLite by default or PostgreSQL (SQLAlchemy Core).

Feedback is committed before the API answers 201. Predictions are committed before the API
answers too (group commit): a request queues its predictions and waits; a background writer
takes everything queued, writes it in one transaction and then releases the requests it
held. So a prediction answered with an id is in the database (a verdict on it finds it, a
SIGKILL right after the answer keeps it), and under load one commit serves many requests
(bench/durable_predictions.py measures the cost).

The queue is bounded (`max_unwritten`): past it, or while the database does not answer,
a request is refused (`Overloaded`, a 503 with Retry-After): nothing is answered that is not
stored, and nothing is held until the process runs out of memory.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exc, func, insert, select
from sqlalchemy.engine import Engine

from api.limits import Overloaded
from ops.database import connect, feedback, new_id, predictions, utcnow

log = logging.getLogger(__name__)

# The database is down or locked, not the row wrong: the requests are refused, to retry.
UNAVAILABLE = (exc.OperationalError, exc.InterfaceError, exc.TimeoutError)
RETRY_AFTER_S = 5  # what a client refused for a full queue or a silent database is told
COMMIT_WAIT_S = 60.0  # a request waits this long for its commit at most
PROBE_EVERY_S = 1.0  # while the database is down, the writer asks it this often


@dataclass(frozen=True)
class Prediction:
    id: str
    text: str
    label: str
    probability_positive: float
    model_name: str
    model_version: str
    created_at: datetime  # when it was scored
    tweeted_at: datetime | None = None  # the tweet's own time (None: a row from before it)
    brand: str | None = None  # None: a row from before brands


@dataclass(frozen=True)
class _Pending:
    rows: Sequence[Prediction]
    done: Future[None]


class PredictionStore:
    """The predictions the API answers, each committed before its answer (a group commit),
    and the users' verdicts on predictions (the `feedback` rows)."""

    def __init__(self, url: str, max_unwritten: int = 10_000) -> None:
        self.engine: Engine = connect(url)
        self.max_unwritten = max_unwritten
        self._pending: list[_Pending] = []
        self._waiting_rows = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._down_since: float | None = None  # the database's outage, as the writer saw it
        self._stop = threading.Event()
        self._writer = threading.Thread(target=self._write_loop, name="prediction-writer")
        self._writer.daemon = True
        self._writer.start()

    @property
    def unwritten(self) -> int:
        """Predictions queued or being written."""
        return self._waiting_rows

    def check_room(self, count: int) -> None:
        """Refuse (`Overloaded`) now what `store_predictions` would refuse: before scoring."""
        if self._down_since is not None:
            raise self._unavailable()
        if self._waiting_rows + count > self.max_unwritten:
            raise self._full(count)

    def queue_predictions(self, batch: Sequence[Prediction]) -> Future[None]:
        """Queue a request's predictions, all or none (`Overloaded` when they do not fit); the
        future is done once they are committed, or fails with `Overloaded` when the database
        did not take them."""
        pending = _Pending(batch, Future())
        with self._lock:
            if self._waiting_rows + len(batch) > self.max_unwritten:
                raise self._full(len(batch))
            self._pending.append(pending)
            self._waiting_rows += len(batch)
        self._wake.set()
        return pending.done

    def store_predictions(self, batch: Sequence[Prediction]) -> None:
        """Queue and wait for the commit (a request's thread)."""
        try:
            self.queue_predictions(batch).result(timeout=COMMIT_WAIT_S)
        except TimeoutError:
            raise self.too_slow() from None

    def too_slow(self) -> Overloaded:
        return Overloaded(
            f"the database did not store the predictions within {COMMIT_WAIT_S:g} s; retry "
            "after the Retry-After seconds",
            RETRY_AFTER_S,
        )

    def _full(self, count: int) -> Overloaded:
        return Overloaded(
            f"cannot take {count} more predictions: {self._waiting_rows} already wait to be "
            f"stored (BADBUZZ_MAX_UNWRITTEN_PREDICTIONS={self.max_unwritten}) and the database "
            "is slower than the traffic; retry after the Retry-After seconds",
            RETRY_AFTER_S,
        )

    def _unavailable(self) -> Overloaded:
        return Overloaded(
            "cannot store predictions: the database does not answer; nothing was stored, "
            "retry after the Retry-After seconds",
            RETRY_AFTER_S,
        )

    def flush(self) -> int:
        """Write everything queued now, in one transaction; returns how many predictions.
        Their requests are released: done, or refused when the database did not take them."""
        with self._lock:
            taken, self._pending = self._pending, []
        if not taken:
            return 0
        rows = [prediction.__dict__ for pending in taken for prediction in pending.rows]
        try:
            with self.engine.begin() as connection:
                connection.execute(insert(predictions), rows)
        except UNAVAILABLE as error:
            self._release(taken, self._unavailable())
            raise error
        except Exception:  # one bad row must not cost the other requests theirs
            log.warning("batch insert of %d predictions failed; request by request", len(rows))
            for pending in taken:
                self._write_alone(pending)
            return len(rows)
        self._release(taken, None)
        return len(rows)

    def _write_alone(self, pending: _Pending) -> None:
        try:
            with self.engine.begin() as connection:
                connection.execute(insert(predictions), [p.__dict__ for p in pending.rows])
        except Exception as error:
            log.exception("could not store %d predictions", len(pending.rows))
            self._release([pending], Overloaded(f"could not store the predictions: {error}"))
        else:
            self._release([pending], None)

    def _release(self, taken: Sequence[_Pending], error: BaseException | None) -> None:
        with self._lock:
            self._waiting_rows -= sum(len(pending.rows) for pending in taken)
        for pending in taken:
            if error is None:
                pending.done.set_result(None)
            else:
                pending.done.set_exception(error)

    def _write_loop(self) -> None:
        while not self._stop.is_set():
            woken = self._wake.wait(PROBE_EVERY_S if self._down_since is not None else None)
            self._wake.clear()
            try:
                if woken:
                    self.flush()
                else:  # down, and /predict refuses at once meanwhile: is it back?
                    with self.engine.connect() as connection:
                        connection.execute(select(1))
            except UNAVAILABLE as error:  # said once per outage, not at every try
                if self._down_since is None:
                    self._down_since = time.monotonic()
                    log.error(
                        "cannot store predictions, the database does not answer (%s): "
                        "/predict answers 503 until it does",
                        str(error).splitlines()[0],
                    )
                continue
            except Exception:  # keep the writer alive; the requests were refused
                log.exception("could not store predictions")
                continue
            if self._down_since is not None:
                log.warning(
                    "storing predictions again, after %.0f s without the database",
                    time.monotonic() - self._down_since,
                )
                self._down_since = None

    def get_prediction(self, prediction_id: str) -> Prediction | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(predictions).where(predictions.c.id == prediction_id)
            ).first()
        return Prediction(**row._mapping) if row else None

    def add_feedback(
        self,
        text: str,
        predicted_label: str,
        correct: bool,
        prediction_id: str | None,
        model_version: str | None,
        right_label: str | None = None,
    ) -> str:
        feedback_id = new_id()
        with self.engine.begin() as connection:
            connection.execute(
                insert(feedback).values(
                    id=feedback_id,
                    prediction_id=prediction_id,
                    text=text,
                    predicted_label=predicted_label,
                    correct=correct,
                    model_version=model_version,
                    right_label=right_label,
                    created_at=utcnow(),
                )
            )
        return feedback_id

    def count_feedback(self, correct: bool | None = None) -> int:
        query = select(func.count()).select_from(feedback)
        if correct is not None:
            query = query.where(feedback.c.correct == correct)
        with self.engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._writer.join()
        try:
            self.flush()  # requests still waiting get their answer, stored or refused
        except UNAVAILABLE:
            log.error("the database did not answer at shutdown: the last requests were refused")
        self.engine.dispose()
