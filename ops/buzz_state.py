"""The bad-buzz watch's memory of each brand, a row of `buzz_state`: its closed windows, the
last one closed, its last alert. Written by the lease holder only (and, with a buzz, in the
alert's transaction), so a restart resumes where the watch was and a buzz is mailed once."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from ops.buzz import BrandState
from ops.database import as_utc, buzz_state


def load_states(connection: Connection, window_s: int) -> dict[str, BrandState]:
    """Every brand's stored state, where it was kept in windows of `window_s` (after a change
    of BADBUZZ_BUZZ_WINDOW_SECONDS the baseline is learned again from the predictions)."""
    states = {}
    for row in connection.execute(
        select(buzz_state).where(buzz_state.c.window_seconds == window_s)
    ):
        states[row.brand] = BrandState(
            brand=row.brand,
            closed_until=as_utc(row.closed_until) if row.closed_until else None,
            history=[(int(k), int(n)) for k, n in json.loads(row.history)],
            last_alert_at=as_utc(row.last_alert_at) if row.last_alert_at else None,
            last_alert_window=as_utc(row.last_alert_window) if row.last_alert_window else None,
        )
    return states


def save_state(connection: Connection, state: BrandState, window_s: int, now: datetime) -> None:
    """Insert or update; only the lease holder writes, so no two runners race here."""
    values = {
        "window_seconds": window_s,
        "closed_until": state.closed_until,
        "history": json.dumps(state.history, separators=(",", ":")),
        "last_alert_at": state.last_alert_at,
        "last_alert_window": state.last_alert_window,
        "updated_at": now,
    }
    updated = connection.execute(
        update(buzz_state).where(buzz_state.c.brand == state.brand).values(**values)
    ).rowcount
    if not updated:
        connection.execute(insert(buzz_state).values(brand=state.brand, **values))
