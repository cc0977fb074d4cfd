"""Predictions and user feedback, in SQLite by default or PostgreSQL (SQLAlchemy Core).

Feedback is committed before the API answers 201. Predictions are queued and written in
batches by a background thread (a commit per request would dominate /predict latency); a
feedback that names a prediction not written yet finds it in memory.

The queue is bounded: while the database is unreachable or slower than the traffic, the
predictions wait in memory (and are written once it answers again) until `max_unwritten`
wait; past that, queueing more is refused (`Overloaded`, a 503 for the client) rather than
held until the process runs out of memory.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exc, func, insert, select
from sqlalchemy.engine import Engine

from api.limits import Overloaded
from ops.database import connect, feedback, new_id, predictions, utcnow

log = logging.getLogger(__name__)

INSERT_CHUNK = 10  # rows per transaction of the prediction writer
# The database is down or locked, not the row wrong: keep the rows and try again later.
UNAVAILABLE = (exc.OperationalError, exc.InterfaceError, exc.TimeoutError)
RETRY_WHILE_DOWN_S = 1.0
RETRY_AFTER_S = 5  # what a client refused for a full queue is told to wait


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


class FeedbackStore:
    def __init__(self, url: str, flush_every_s: float = 0.1, max_unwritten: int = 10_000) -> None:
        self.engine: Engine = connect(url)
        self.max_unwritten = max_unwritten
        self._queue: deque[Prediction] = deque()
        # queued or being written, by id: feedback on them needs no flush (a flush in the
        # request would write the whole backlog there, seconds under full load)
        self._unwritten: dict[str, Prediction] = {}
        self._lock = threading.Lock()  # the queue and the map change together
        self._flush_lock = threading.Lock()
        self._down_since: float | None = None  # the database's outage, as the writer saw it
        self._stop = threading.Event()
        self._writer = threading.Thread(
            target=self._write_loop, args=(flush_every_s,), name="prediction-writer", daemon=True
        )
        self._writer.start()

    @property
    def unwritten(self) -> int:
        """Predictions queued or being written."""
        return len(self._unwritten)

    def check_room(self, count: int) -> None:
        """Refuse (`Overloaded`) now what `queue_predictions` would refuse: before scoring."""
        if len(self._unwritten) + count > self.max_unwritten:
            raise self._full(count)

    def queue_predictions(self, batch: Sequence[Prediction]) -> None:
        """Queue a request's predictions, all or none (`Overloaded` when they do not fit)."""
        with self._lock:
            if len(self._unwritten) + len(batch) > self.max_unwritten:
                raise self._full(len(batch))
            for prediction in batch:
                self._unwritten[prediction.id] = prediction
            self._queue.extend(batch)

    def queue_prediction(self, prediction: Prediction) -> None:
        self.queue_predictions([prediction])

    def _full(self, count: int) -> Overloaded:
        why = (
            "the database does not answer"
            if self._down_since is not None
            else "the database is slower than the traffic"
        )
        return Overloaded(
            f"cannot take {count} more predictions: {len(self._unwritten)} already wait to be "
            f"stored (BADBUZZ_MAX_UNWRITTEN_PREDICTIONS={self.max_unwritten}) and {why}; "
            "retry after the Retry-After seconds",
            RETRY_AFTER_S,
        )

    def flush(self) -> int:
        """Write every queued prediction now; returns how many. While the database is
        unreachable the rows stay queued, in order, and this raises the database's error."""
        with self._flush_lock:
            with self._lock:
                rows: list[dict[str, Any]] = [p.__dict__ for p in self._queue]
                self._queue.clear()
            if not rows:
                return 0
            written = 0
            try:
                # short transactions: on SQLite each row's step gives the GIL away, and under
                # load getting it back takes a switch interval, so one transaction for a whole
                # batch held the write lock for seconds and /feedback waited behind it
                for start in range(0, len(rows), INSERT_CHUNK):
                    with self.engine.begin() as connection:
                        connection.execute(insert(predictions), rows[start : start + INSERT_CHUNK])
                    written = start + INSERT_CHUNK
            except UNAVAILABLE:
                self._forget(rows[:written])
                with self._lock:  # back in front, in order, for the next try
                    self._queue.extendleft(
                        self._unwritten[row["id"]] for row in reversed(rows[written:])
                    )
                raise
            except Exception:  # one bad row must not cost the others: retry them one by one
                log.warning(
                    "batch insert of %d predictions failed; inserting one by one", len(rows)
                )
                for row in rows[written:]:
                    try:
                        with self.engine.begin() as connection:
                            connection.execute(insert(predictions), [row])
                    except Exception:
                        log.exception("could not store prediction %s", row["id"])
            self._forget(rows)
            return len(rows)

    def _forget(self, rows: Sequence[dict[str, Any]]) -> None:
        with self._lock:
            for row in rows:
                self._unwritten.pop(row["id"], None)

    def _write_loop(self, every_s: float) -> None:
        wait = every_s
        while not self._stop.wait(wait):
            try:
                self.flush()
            except UNAVAILABLE as error:  # said once per outage, not at every try
                if self._down_since is None:
                    self._down_since = time.monotonic()
                    log.error(
                        "cannot store predictions, the database does not answer (%s); %d wait "
                        "in memory, /predict answers 503 once %d do",
                        str(error).splitlines()[0],
                        self.unwritten,
                        self.max_unwritten,
                    )
                wait = RETRY_WHILE_DOWN_S
                continue
            except Exception:  # keep the writer alive; the rows stay in the log lines
                log.exception("could not store predictions")
            if self._down_since is not None:
                log.warning(
                    "storing predictions again, after %.0f s without the database",
                    time.monotonic() - self._down_since,
                )
                self._down_since = None
            wait = every_s

    def get_prediction(self, prediction_id: str) -> Prediction | None:
        unwritten = self._unwritten.get(prediction_id)
        if unwritten is not None:
            return unwritten
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
        self._writer.join()
        try:
            self.flush()
        except UNAVAILABLE:
            log.error(
                "%d predictions were not stored: the database did not answer at shutdown "
                "(the badbuzz.predictions log lines hold them when logged)",
                self.unwritten,
            )
        self.engine.dispose()
