"""The service's database: SQLite by default, PostgreSQL in compose (SQLAlchemy Core).

Every table lives here, the API's included, because the jobs in `ops/` read what the API
writes: predictions and feedback (written by the API), alerts and the feedback rows that
caused them, the outbox of mail, per-second latency histograms of `/predict`, and the lease
that makes the jobs single-runner across processes. `create_all` adds missing tables to an
older database; it never changes existing ones.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

metadata = MetaData()
SQLITE_BUSY_TIMEOUT_S = 30.0

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
alerts = Table(
    "alerts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("rule", String(50), nullable=False),
    Column("fired_at", DateTime(timezone=True), nullable=False, index=True),
    Column("window_start", DateTime(timezone=True), nullable=False),
    Column("window_end", DateTime(timezone=True), nullable=False),
    Column("observed", Float, nullable=False),  # wrong predictions, or p95 seconds
    Column("threshold", Float, nullable=False),
    Column("model_version", String(50), nullable=True),
    Column("summary", Text, nullable=False),  # one line, for lists and subjects
    Column("report_text", Text, nullable=False),
    Column("report_path", Text, nullable=True),  # the folder the report was written to
)
alert_feedback = Table(
    "alert_feedback",
    metadata,
    Column("alert_id", String(36), ForeignKey("alerts.id"), primary_key=True),
    Column("feedback_id", String(36), primary_key=True),
)
outbox = Table(
    "outbox",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("message_id", String(200), nullable=False, unique=True),
    Column("alert_id", String(36), nullable=True, index=True),
    Column("subject", Text, nullable=False),
    Column("message", LargeBinary, nullable=False),  # the whole RFC 5322 message
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=True, index=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, index=True),
    Column("last_error", Text, nullable=True),
)
latency = Table(
    "latency",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("second", DateTime(timezone=True), nullable=False, index=True),
    Column("upper_bound_s", Float, nullable=False),  # histogram bucket: latency <= this
    Column("process", String(200), nullable=False),
    Column("count", Integer, nullable=False),
)
leases = Table(
    "leases",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes (all written in UTC); PostgreSQL aware ones."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def connect(url: str) -> Engine:
    """An engine on `url`, with every table created if missing.

    SQLite runs in WAL mode: the API's writers (predictions, feedback) and the jobs' readers
    never wait for each other, and a commit waits only for another commit, not for a reader.
    """
    sqlite = url.startswith("sqlite")
    # a writer waits this long for another's commit before giving up (pysqlite's default: 5 s)
    connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_S} if sqlite else {}
    engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args)
    if sqlite:
        event.listen(engine, "connect", _sqlite_wal)
    _create_tables(engine)
    return engine


def _create_tables(engine: Engine) -> None:
    """`create_all`, with workers starting at once on a new database: when another created
    a table between our check and our CREATE, check again (each round, one table fewer)."""
    for _ in range(len(metadata.tables)):
        try:
            metadata.create_all(engine)
            return
        except DBAPIError:
            continue
    metadata.create_all(engine)  # by now every table exists, or the error is real


def _sqlite_wal(dbapi_connection: Any, _record: object) -> None:
    dbapi_connection.execute("PRAGMA journal_mode=WAL")
