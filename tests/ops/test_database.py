"""Two API workers start at once on a new database: both create the tables, neither fails;
and a database created before the bad-buzz watch and the hardened outbox gets its new
columns, rows kept."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import create_engine, inspect, select, text

from ops.database import connect, metadata, predictions

WORKERS = 8


def test_workers_creating_the_tables_at_once_all_start(tmp_path: Path) -> None:
    for attempt in range(5):  # the race is narrow: try it on a few fresh files
        url = f"sqlite:///{tmp_path / f'race-{attempt}.db'}"
        start = threading.Barrier(WORKERS)
        failures: list[Exception] = []

        def worker(
            url: str = url, start: threading.Barrier = start, failures: list[Exception] = failures
        ) -> None:
            start.wait()
            try:
                connect(url).dispose()
            except Exception as error:  # collected, then asserted
                failures.append(error)

        threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        engine = connect(url)
        assert set(inspect(engine).get_table_names()) == set(metadata.tables)
        engine.dispose()


# The two tables as the first release created them, before the bad-buzz watch added columns.
OLD_TABLES = [
    """CREATE TABLE predictions (id VARCHAR(36) PRIMARY KEY, text TEXT NOT NULL,
    label VARCHAR(16) NOT NULL, probability_positive FLOAT NOT NULL,
    model_name VARCHAR(200) NOT NULL, model_version VARCHAR(50) NOT NULL,
    created_at TIMESTAMP NOT NULL)""",
    """CREATE TABLE alerts (id VARCHAR(36) PRIMARY KEY, rule VARCHAR(50) NOT NULL,
    fired_at TIMESTAMP NOT NULL, window_start TIMESTAMP NOT NULL,
    window_end TIMESTAMP NOT NULL, observed FLOAT NOT NULL, threshold FLOAT NOT NULL,
    model_version VARCHAR(50), summary TEXT NOT NULL, report_text TEXT NOT NULL,
    report_path TEXT)""",
    """INSERT INTO predictions VALUES ('old', 'from before', 'negative', 0.2,
    'tweet-sentiment', '1', '2024-01-01 00:00:00')""",
    # the outbox before dead letters, per-recipient results and claims
    """CREATE TABLE outbox (id VARCHAR(36) PRIMARY KEY, message_id VARCHAR(200) NOT NULL UNIQUE,
    alert_id VARCHAR(36), subject TEXT NOT NULL, message BYTEA NOT NULL,
    created_at TIMESTAMP NOT NULL, sent_at TIMESTAMP, attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL, last_error TEXT)""",
]


def test_a_database_from_before_the_buzz_watch_gets_its_columns_and_keeps_its_rows(
    database_url: str,
) -> None:
    old = create_engine(database_url)
    with old.begin() as connection:
        for statement in OLD_TABLES:
            connection.execute(text(statement))
    old.dispose()

    engines = [connect(database_url) for _ in range(2)]  # the second finds them there

    columns = {c["name"] for c in inspect(engines[1]).get_columns("predictions")}
    assert {"tweeted_at", "brand"} <= columns
    assert {"brand", "baseline"} <= {c["name"] for c in inspect(engines[1]).get_columns("alerts")}
    assert {"dead_at", "delivered_to", "refused_by", "claimed_by", "claimed_until"} <= {
        c["name"] for c in inspect(engines[1]).get_columns("outbox")
    }
    indexes = {i["name"] for i in inspect(engines[1]).get_indexes("predictions")}
    assert "ix_predictions_brand_tweeted_at" in indexes
    # the hourly cap of alert mails: its columns, and one mail per slot
    outbox_columns = {c["name"] for c in inspect(engines[1]).get_columns("outbox")}
    assert {"budget_slot", "budget_at", "held_at", "summarised_in", "held_summary"} <= (
        outbox_columns
    )
    unique = {i["name"] for i in inspect(engines[1]).get_indexes("outbox") if i["unique"]}
    assert "ux_outbox_budget_slot" in unique
    with engines[1].connect() as connection:
        row = connection.execute(select(predictions).where(predictions.c.id == "old")).one()
    assert row.text == "from before" and row.tweeted_at is None and row.brand is None
    for engine in engines:
        engine.dispose()
