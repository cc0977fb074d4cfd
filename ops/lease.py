"""Single-runner work across processes: a lease row in the database.

APScheduler cannot share a job store between processes (its FAQ says so), and the API may
run as several workers or replicas on one database. Each process schedules the same jobs;
a job runs its work only while its process holds the lease, a row (name, holder,
expires_at) taken with one conditional UPDATE (or the first INSERT), which both SQLite and
PostgreSQL make atomic. The holder renews it at every run; when it dies, another process
takes over once `ttl_s` has passed. It works the same on SQLite (the default) and
PostgreSQL (compose), which an advisory lock would not.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import timedelta

from sqlalchemy import insert, or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from ops.database import leases, utcnow


def process_identity() -> str:
    """Host, process id and a random part: unique even across container restarts."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    def __init__(self, engine: Engine, name: str, ttl_s: float, holder: str | None = None) -> None:
        self.engine = engine
        self.name = name
        self.ttl = timedelta(seconds=ttl_s)
        self.holder = holder or process_identity()

    def acquire(self) -> bool:
        """Take or renew the lease; True while this process holds it."""
        now = utcnow()
        with self.engine.begin() as connection:
            taken = connection.execute(
                update(leases)
                .where(
                    leases.c.name == self.name,
                    or_(leases.c.holder == self.holder, leases.c.expires_at < now),
                )
                .values(holder=self.holder, expires_at=now + self.ttl)
            ).rowcount
        if taken:
            return True
        try:
            with self.engine.begin() as connection:
                connection.execute(
                    insert(leases).values(
                        name=self.name, holder=self.holder, expires_at=now + self.ttl
                    )
                )
        except IntegrityError:  # another process holds it
            return False
        return True

    def release(self) -> None:
        """Let another process take over at once (on a clean shutdown)."""
        with self.engine.begin() as connection:
            connection.execute(
                update(leases)
                .where(leases.c.name == self.name, leases.c.holder == self.holder)
                .values(expires_at=utcnow() - self.ttl)
            )
