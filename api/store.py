"""Predictions and user feedback, in SQLite by default or PostgreSQL (SQLAlchemy Core).

Feedback is committed before the API answers 201. Predictions are queued and written in
batches by a background thread (a commit per request would dominate /predict latency); a
feedback that names a prediction still in the queue flushes it first.
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    func,
    insert,
    select,
)
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

metadata = MetaData()
predictions = Table(
    "predictions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("text", Text, nullable=False),
    Column("label", String(16), nullable=False),
    Column("probability_positive", Float, nullable=False),
    Column("model_name", String(200), nullable=False),
    Column("model_version", String(50), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
)
feedback = Table(
    "feedback",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("prediction_id", String(36), nullable=True, index=True),
    Column("text", Text, nullable=False),
    Column("predicted_label", String(16), nullable=False),
    Column("correct", Boolean, nullable=False),
    Column("model_version", String(50), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
)


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Prediction:
    id: str
    text: str
    label: str
    probability_positive: float
    model_name: str
    model_version: str
    created_at: datetime


class FeedbackStore:
    def __init__(self, url: str, flush_every_s: float = 0.1) -> None:
        self.engine: Engine = create_engine(url, pool_pre_ping=True)
        metadata.create_all(self.engine)
        self._queue: queue.Queue[Prediction] = queue.Queue()
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._writer = threading.Thread(
            target=self._write_loop, args=(flush_every_s,), name="prediction-writer", daemon=True
        )
        self._writer.start()

    def queue_prediction(self, prediction: Prediction) -> None:
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
                with self.engine.begin() as connection:
                    connection.execute(insert(predictions), rows)
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
            return len(rows)

    def _write_loop(self, every_s: float) -> None:
        while not self._stop.wait(every_s):
            try:
                self.flush()
            except Exception:  # keep the writer alive; the rows stay in the log lines
                log.exception("could not store predictions")

    def get_prediction(self, prediction_id: str) -> Prediction | None:
        self.flush()
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
