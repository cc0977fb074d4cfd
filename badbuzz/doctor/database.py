"""The service's database (BADBUZZ_DATABASE_URL, else SQLite under BADBUZZ_HOME): it answers
`SELECT 1`, or, for a SQLite file not created yet, the API will be able to create it."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

from badbuzz.doctor.result import CheckResult

INSTALL = "install badbuzz[api-tflite] (SQLAlchemy and psycopg come with it)"


def check_database(url: str, timeout_s: float) -> CheckResult:
    """Connect and `SELECT 1`, waiting at most `timeout_s` for the server; nothing created."""
    try:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
        from sqlalchemy.pool import NullPool
    except ImportError:
        return CheckResult("database", "fail", "SQLAlchemy is not installed here", INSTALL)
    try:
        parsed = make_url(url)
    except ArgumentError:
        return CheckResult(
            "database",
            "fail",
            "BADBUZZ_DATABASE_URL is not a database URL",
            "set it like postgresql+psycopg://user:password@host:5432/badbuzz, or unset it",
        )
    shown = parsed.render_as_string(hide_password=True)
    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        file = Path(parsed.database or "")
        if parsed.database and parsed.database != ":memory:" and not file.exists():
            return sqlite_to_create(shown, file)
        connect_args["timeout"] = timeout_s
    elif parsed.get_backend_name() == "postgresql":
        connect_args["connect_timeout"] = max(1, math.ceil(timeout_s))
    started = time.monotonic()
    try:
        engine = create_engine(parsed, poolclass=NullPool, connect_args=connect_args)
    except (ModuleNotFoundError, NoSuchModuleError) as error:
        return CheckResult("database", "fail", f"{shown}: no driver here ({error})", INSTALL)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except ModuleNotFoundError as error:
        return CheckResult("database", "fail", f"{shown}: no driver here ({error})", INSTALL)
    except SQLAlchemyError as error:
        cause = getattr(error, "orig", None) or error
        reason = " ".join(str(cause).split())[:200]
        return CheckResult(
            "database",
            "fail",
            f"{shown} unreachable: {reason}",
            "check that the server runs, and BADBUZZ_DATABASE_URL's host, port, user, "
            "password and database",
        )
    finally:
        engine.dispose()
    elapsed_ms = (time.monotonic() - started) * 1000
    return CheckResult("database", "ok", f"{shown}: SELECT 1 in {elapsed_ms:.0f} ms")


def sqlite_to_create(shown: str, file: Path) -> CheckResult:
    """A SQLite file the API creates at its start: fine if its folder can be written."""
    folder = file.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if os.access(folder, os.W_OK | os.X_OK):
        return CheckResult("database", "ok", f"{shown}: not created yet; the API creates it")
    return CheckResult(
        "database",
        "fail",
        f"{shown}: not created yet, and {folder} is not writable",
        "make it writable by the API's user, or set BADBUZZ_HOME or BADBUZZ_DATABASE_URL",
    )
