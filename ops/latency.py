"""Latency of `/predict`, as per-second histograms in the database, so that the latency rule
sees every worker and replica, and a restart keeps the window.

Each process counts its requests in memory (a dict increment on the request path) and a
job writes the counts of finished seconds every second: one row per (second, bucket,
process), a few rows a second whatever the traffic.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections import Counter
from datetime import UTC, datetime

from sqlalchemy import delete, insert
from sqlalchemy.engine import Engine

from ops.database import latency

# Upper bounds in seconds; the default latency threshold (250 ms) is one of them.
BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, math.inf)
# SQL columns hold no infinity: the last bucket is stored with this bound.
OVERFLOW_S = 1e9
STORED_BOUNDS = tuple(OVERFLOW_S if math.isinf(bound) else bound for bound in BUCKETS_S)


class LatencyRecorder:
    def __init__(self, process: str) -> None:
        self.process = process
        self._counts: Counter[tuple[int, float]] = Counter()
        self._lock = threading.Lock()

    def observe(self, seconds: float, at: float) -> None:
        """One request that took `seconds`, finished at unix time `at`."""
        bound = BUCKETS_S[bisect.bisect_left(BUCKETS_S, seconds)]
        with self._lock:
            self._counts[(int(at), bound)] += 1

    def flush(self, engine: Engine, now: float) -> int:
        """Write the counts of the seconds that are over; returns how many rows."""
        current = int(now)
        with self._lock:
            done = {key: n for key, n in self._counts.items() if key[0] < current}
            for key in done:
                del self._counts[key]
        if not done:
            return 0
        rows = [
            {
                "second": datetime.fromtimestamp(second, UTC),
                "upper_bound_s": STORED_BOUNDS[BUCKETS_S.index(bound)],
                "process": self.process,
                "count": count,
            }
            for (second, bound), count in done.items()
        ]
        with engine.begin() as connection:
            connection.execute(insert(latency), rows)
        return len(rows)


def forget_before(engine: Engine, moment: datetime) -> int:
    """Delete histogram rows older than `moment` (retention)."""
    with engine.begin() as connection:
        return connection.execute(delete(latency).where(latency.c.second < moment)).rowcount
