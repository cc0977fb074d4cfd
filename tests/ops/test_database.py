"""Two API workers start at once on a new database: both create the tables, neither fails."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import inspect

from ops.database import connect, metadata

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
