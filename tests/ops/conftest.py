"""The ops tests' database: each test runs on a SQLite file and on a throwaway PostgreSQL
database, as the API runs on either."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from ops.database import connect
from tests.processes import PostgresUnavailable, throwaway_postgres, unavailable


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'badbuzz.db'}"
        return
    try:
        with throwaway_postgres("badbuzz_ops") as url:
            yield url
    except PostgresUnavailable as error:
        unavailable(str(error))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = connect(database_url)
    yield engine
    engine.dispose()
