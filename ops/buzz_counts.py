"""How many negative predictions and tweets each brand has per window of tweet time: one
grouped query over the predictions table, in SQLite and PostgreSQL alike. The live watch, the
buzz report's chart and `/buzz` read the same counts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, case, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from ops.database import predictions


class _EpochSeconds(FunctionElement[int]):
    """Whole seconds since the Unix epoch of a UTC timestamp column, in each dialect."""

    type = BigInteger()
    inherit_cache = True


@compiles(_EpochSeconds, "sqlite")
def _epoch_sqlite(element: _EpochSeconds, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(strftime('%s', {compiler.process(element.clauses, **kw)}) AS INTEGER)"


@compiles(_EpochSeconds)
def _epoch_default(element: _EpochSeconds, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(floor(extract(epoch from {compiler.process(element.clauses, **kw)})) AS BIGINT)"


Counts = dict[tuple[str, datetime], tuple[int, int]]  # (brand, window start) -> (neg, total)


def window_counts(
    connection: Connection,
    seconds: int,
    since: datetime,
    until: datetime,
    brand: str | None = None,
) -> Counts:
    """Negatives and tweets per brand and window of `seconds` (aligned on the epoch), for
    the tweets posted in [since, until)."""
    bucket = (_EpochSeconds(predictions.c.tweeted_at) // seconds).label("bucket")
    negative = func.sum(case((predictions.c.label == "negative", 1), else_=0))
    query = (
        select(predictions.c.brand, bucket, negative, func.count())
        .where(predictions.c.tweeted_at >= since, predictions.c.tweeted_at < until)
        .group_by(predictions.c.brand, bucket)
    )
    if brand is not None:
        query = query.where(predictions.c.brand == brand)
    epoch = datetime.fromtimestamp(0, since.tzinfo)
    return {
        (row[0], epoch + timedelta(seconds=int(row[1]) * seconds)): (int(row[2]), int(row[3]))
        for row in connection.execute(query)
        if row[0] is not None
    }
