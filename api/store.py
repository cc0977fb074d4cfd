"""Predictions and user feedback, in SQLite by default or PostgreSQL (SQLAlchemy Core).

Feedback is committed before the API answers 201. Predictions are queued and written in
batches by a background thread (a commit per request would dominate /predict latency); a
feedback that names a prediction not written yet finds it in memory.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Engine

from ops.database import connect, feedback, new_id, predictions, utcnow

log = logging.getLogger(__name__)

INSERT_CHUNK = 10  # rows per transaction of the prediction writer


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
    def __init__(self, url: str, flush_every_s: float = 0.1) -> None:
        self.engine: Engine = connect(url)
        self._queue: queue.Queue[Prediction] = queue.Queue()
        # queued or being written, by id: feedback on them needs no flush (a flush in the
        # request would write the whole backlog there, seconds under full load)
        self._unwritten: dict[str, Prediction] = {}
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._writer = threading.Thread(
            target=self._write_loop, args=(flush_every_s,), name="prediction-writer", daemon=True
        )
        self._writer.start()

    def queue_prediction(self, prediction: Prediction) -> None:
        self._unwritten[prediction.id] = prediction
        self._queue.put(prediction)

    def flush(self) -> int:
        """Write every queued prediction now; returns how many."""
        with self._flush_lock:
            rows: list[dict[str, Any]] = []
            while True:
                try:
                    rows.append(self._queue.get_nowait().__dict__)
                except queue.Empty:
                    break
            if not rows:
                return 0
            try:
                # short transactions: on SQLite each row's step gives the GIL away, and under
                # load getting it back takes a switch interval, so one transaction for a whole
                # batch held the write lock for seconds and /feedback waited behind it
                for start in range(0, len(rows), INSERT_CHUNK):
                    with self.engine.begin() as connection:
                        connection.execute(insert(predictions), rows[start : start + INSERT_CHUNK])
            except Exception:  # one bad row must not cost the others: retry them one by one
                log.warning(
                    "batch insert of %d predictions failed; inserting one by one", len(rows)
                )
                for row in rows:
                    try:
                        with self.engine.begin() as connection:
                            connection.execute(insert(predictions), [row])
                    except Exception:
                        log.exception("could not store prediction %s", row["id"])
            for row in rows:
                self._unwritten.pop(row["id"], None)
            return len(rows)

    def _write_loop(self, every_s: float) -> None:
        while not self._stop.wait(every_s):
            try:
                self.flush()
            except Exception:  # keep the writer alive; the rows stay in the log lines
                log.exception("could not store predictions")

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
        self.flush()
        self.engine.dispose()
