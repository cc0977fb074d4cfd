"""The service's database: SQLite by default, PostgreSQL in compose (SQLAlchemy Core).

Every table lives here, the API's included, because the jobs in `ops/` read what the API
writes: predictions and feedback (written by the API), alerts and the feedback rows that
caused them, the outbox of mail, per-second latency histograms of `/predict`, the bad-buzz
watch's baselines, the scheduled retrain's runs, and the leases that make the jobs
single-runner across processes.
`create_all` adds missing tables to an older database, and `ADDED_COLUMNS` the columns added
since (nullable); nothing else of an existing table changes.
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    inspect,
    text,
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
    # added by the bad-buzz watch: NULL in rows written before (read as created_at and `all`)
    Column("tweeted_at", DateTime(timezone=True), nullable=True),  # the tweet's own time
    Column("brand", String(64), nullable=True),
    Index("ix_predictions_brand_tweeted_at", "brand", "tweeted_at"),
    Index("ix_predictions_tweeted_at", "tweeted_at"),
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
    # the label the tweet should have had, when the user said (a wrong `neutral` prediction
    # says nothing of negative or positive without it)
    Column("right_label", String(16), nullable=True),
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
    # added by the bad-buzz watch (NULL for the other rules)
    Column("brand", String(64), nullable=True),
    Column("baseline", Float, nullable=True),  # the negatives a window usually has
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
    # added by the hardened outbox (NULL in older rows: pending, nobody has it, unclaimed)
    Column("dead_at", DateTime(timezone=True), nullable=True),  # given up: the dead letters
    Column("delivered_to", Text, nullable=True),  # JSON list: recipients that accepted it
    Column("refused_by", Text, nullable=True),  # JSON list: recipients that refused it for good
    Column("claimed_by", String(200), nullable=True),  # the runner sending it now
    Column("claimed_until", DateTime(timezone=True), nullable=True),
    # added by the cap of alert mails per hour (ops.mail_cap; NULL in older rows: not counted)
    Column("budget_slot", Integer, nullable=True),  # the n-th mail the cap let through
    Column("budget_at", DateTime(timezone=True), nullable=True),  # ...when it took its slot
    Column("held_at", DateTime(timezone=True), nullable=True),  # held back: over the cap
    Column("summarised_in", String(36), nullable=True, index=True),  # the summary's outbox id
    Column("held_summary", Boolean, nullable=True),  # this mail lists held alert mails
    # one mail per slot: two runners cannot both take the last one of the hour
    Index("ux_outbox_budget_slot", "budget_slot", unique=True),
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
buzz_state = Table(
    "buzz_state",
    metadata,
    Column("brand", String(64), primary_key=True),
    Column("window_seconds", Integer, nullable=False),  # the history's unit
    Column("closed_until", DateTime(timezone=True), nullable=True),  # end of the last closed window
    Column("history", Text, nullable=False),  # JSON [[negatives, total], ...], oldest first
    Column("last_alert_at", DateTime(timezone=True), nullable=True),
    Column("last_alert_window", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
retrain_runs = Table(
    "retrain_runs",
    metadata,
    Column("id", String(36), primary_key=True),
    # the cron time it ran for: one run per scheduled time, whichever process starts first
    Column("scheduled_for", DateTime(timezone=True), nullable=False, unique=True),
    Column("runner", String(200), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False, index=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),  # NULL while it runs
    Column("outcome", String(16), nullable=False),  # running, skipped, promoted, refused, failed
    Column("reason", Text, nullable=True),  # one line: retrain's, or why it failed
    Column("champion_version", String(50), nullable=True),  # the version it challenged
    Column("new_version", String(50), nullable=True),  # the challenger, registered
    Column("exit_code", Integer, nullable=True),
    Column("output_path", Text, nullable=True),  # the child's stdout and stderr
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
    a table between our check and our CREATE, check again (each round, one table fewer).
    Then the columns added since a table was first created (`ADDED_COLUMNS`)."""
    for _ in range(len(metadata.tables)):
        try:
            metadata.create_all(engine)
            break
        except DBAPIError:
            continue
    else:
        metadata.create_all(engine)  # by now every table exists, or the error is real
    _add_columns(engine)


# Columns added to tables that older databases already have: `create_all` skips an existing
# table, so these are added with ALTER TABLE (nullable, so old rows need no value).
ADDED_COLUMNS = {
    "predictions": ("tweeted_at", "brand"),
    "alerts": ("brand", "baseline"),
    "feedback": ("right_label",),
    "outbox": (
        "dead_at",
        "delivered_to",
        "refused_by",
        "claimed_by",
        "claimed_until",
        "budget_slot",
        "budget_at",
        "held_at",
        "summarised_in",
        "held_summary",
    ),
}
ADDED_INDEXES = {
    "predictions": ("ix_predictions_brand_tweeted_at", "ix_predictions_tweeted_at"),
    "outbox": ("ux_outbox_budget_slot", "ix_outbox_summarised_in"),
}


def _add_columns(engine: Engine) -> None:
    """Add what `ADDED_COLUMNS` names where missing; a worker that lost the race to another
    finds the column there on its second look."""
    for _ in range(2):
        missing = _missing_columns(engine)
        if not missing:
            break
        for table, name in missing:
            column = metadata.tables[table].c[name]
            kind = column.type.compile(dialect=engine.dialect)
            try:
                with engine.begin() as connection:
                    connection.execute(text(f"ALTER TABLE {table} ADD COLUMN {name} {kind}"))
            except DBAPIError:
                continue  # another process added it: the next look says so
    else:
        if missing := _missing_columns(engine):
            raise RuntimeError(f"could not add the columns {missing} to the database")
    for table, names in ADDED_INDEXES.items():
        for index in metadata.tables[table].indexes:
            if index.name in names:
                # another process may create it between its check and ours
                with contextlib.suppress(DBAPIError):
                    index.create(engine, checkfirst=True)


def _missing_columns(engine: Engine) -> list[tuple[str, str]]:
    inspector = inspect(engine)
    missing = []
    for table, names in ADDED_COLUMNS.items():
        present = {column["name"] for column in inspector.get_columns(table)}
        missing += [(table, name) for name in names if name not in present]
    return missing


def _sqlite_wal(dbapi_connection: Any, _record: object) -> None:
    dbapi_connection.execute("PRAGMA journal_mode=WAL")
