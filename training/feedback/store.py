"""Reading the verdicts users gave through the API's `/feedback`, from the API's database
(BADBUZZ_DATABASE_URL; by default the SQLite file under BADBUZZ_HOME).

Training imports the core only (ARCHITECTURE.md), not `ops`, which owns the schema: the
table is named here by the columns it reads. This couples to `ops.database.feedback`'s
`id`, `text`, `predicted_label`, `correct`, `created_at` and `right_label` (absent in a
database the API has not opened since it was added: read as none given);
tests/code/test_feedback_data.py checks that they are still there.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import (
    Boolean,
    DateTime,
    String,
    Text,
    column,
    create_engine,
    inspect,
    null,
    select,
    table,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from badbuzz.errors import DataError

FEEDBACK = table(
    "feedback",
    column("id", String(36)),
    column("text", Text()),
    column("predicted_label", String(16)),
    column("correct", Boolean()),
    column("created_at", DateTime(timezone=True)),
    column("right_label", String(16)),
)


def read_feedback(url: str, since: datetime | None = None) -> pd.DataFrame:
    """Every verdict (or those given after `since`), oldest first: `id`, `text`,
    `predicted_label`, `correct`, `created_at`, `right_label` (None where not given).

    Never creates a database: a missing SQLite file or table is a `DataError` that says
    which database was read.
    """
    shown = make_url(url).render_as_string(hide_password=True)
    hint = "set BADBUZZ_DATABASE_URL (and BADBUZZ_HOME) to the API's"
    database = make_url(url).database
    if url.startswith("sqlite") and not (database and Path(database).is_file()):
        raise DataError(f"no feedback database at {shown}: {hint}")
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table(FEEDBACK.name):
                raise DataError(f"{shown} has no {FEEDBACK.name} table: {hint}")
            names = {c["name"] for c in inspect(connection).get_columns(FEEDBACK.name)}
            columns = [c if c.name in names else null().label(c.name) for c in FEEDBACK.c]
            query = select(*columns).order_by(FEEDBACK.c.created_at, FEEDBACK.c.id)
            if since is not None:
                query = query.where(FEEDBACK.c.created_at > since)
            rows = connection.execute(query).all()
    except SQLAlchemyError as error:
        raise DataError(f"cannot read feedback from {shown}: {error}") from error
    finally:
        engine.dispose()
    frame = pd.DataFrame(rows, columns=list(FEEDBACK.c.keys()))
    frame["correct"] = frame["correct"].astype(bool)
    return frame
