"""compose/postgres/create-app-db.sh, run by this machine's sh and psql against the local
PostgreSQL server (as the image's entrypoint runs it, as its superuser): the API's database
and role, and the role kept out of MLflow's database. Local connections are trusted here, so
the password itself is checked as a stored hash, not by logging in."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.processes import LOCAL_POSTGRES

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).resolve().parents[2] / "compose" / "postgres" / "create-app-db.sh"


@pytest.fixture
def admin() -> Iterator[psycopg.Connection]:
    uri = os.environ.get("BADBUZZ_IT_PG_URI", LOCAL_POSTGRES)
    try:
        connection = psycopg.connect(uri, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        pytest.fail(f"PostgreSQL not reachable at {uri}: {error}")
    with connection:
        yield connection


@pytest.fixture
def names(admin: psycopg.Connection) -> Iterator[dict[str, str]]:
    """MLflow's database (made here, as POSTGRES_DB is), and the names the script creates;
    all dropped afterwards."""
    suffix = secrets.token_hex(4)
    found = {"mlflow": f"mlflow_{suffix}", "app": f"badbuzz_{suffix}", "role": f"api_{suffix}"}
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(found["mlflow"])))
    try:
        yield found
    finally:
        for database in (found["app"], found["mlflow"]):
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            admin.execute(drop.format(sql.Identifier(database)))
        admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(found["role"])))


def run_script(admin: psycopg.Connection, names: dict[str, str], password: str) -> None:
    info = admin.info
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PGHOST": info.host,
        "PGPORT": str(info.port),
        "POSTGRES_USER": info.user,
        "POSTGRES_DB": names["mlflow"],
        "BADBUZZ_APP_DB": names["app"],
        "BADBUZZ_APP_DB_USER": names["role"],
        "BADBUZZ_APP_DB_PASSWORD": password,
    }
    assert shutil.which("psql"), "psql (the PostgreSQL client) is needed"
    done = subprocess.run(
        ["/bin/sh", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def stored_password(admin: psycopg.Connection, role: str) -> str:
    row = admin.execute(
        "SELECT rolpassword, rolsuper, rolcreatedb FROM pg_authid WHERE rolname = %s", (role,)
    ).fetchone()
    assert row is not None and row[1] is False and row[2] is False
    return str(row[0])


def connect_as(admin: psycopg.Connection, role: str, database: str) -> psycopg.Connection:
    info = admin.info
    return psycopg.connect(
        host=info.host, port=info.port, user=role, dbname=database, autocommit=True
    )


def test_the_api_owns_its_database_and_cannot_enter_mlflows(
    admin: psycopg.Connection, names: dict[str, str]
) -> None:
    run_script(admin, names, "first-Zq8vT2mW9xK4'quote")  # a quote: psql quotes the literal
    assert stored_password(admin, names["role"]).startswith("SCRAM-SHA-256$")
    owner = admin.execute(
        "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (names["app"],)
    ).fetchone()
    assert owner == (names["role"],)
    with connect_as(admin, names["role"], names["app"]) as api:
        api.execute("CREATE TABLE predictions (id serial PRIMARY KEY, text text)")
        api.execute("INSERT INTO predictions (text) VALUES ('late again')")
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        connect_as(admin, names["role"], names["mlflow"])


def test_it_runs_again_on_a_stack_made_before_the_role(
    admin: psycopg.Connection, names: dict[str, str]
) -> None:
    # the old script: the database owned by the superuser, the API's tables too
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(names["app"])))
    with connect_as(admin, admin.info.user, names["app"]) as old:
        old.execute("CREATE TABLE feedback (id serial PRIMARY KEY, correct boolean)")
    run_script(admin, names, "first-Zq8vT2mW9xK4")
    first = stored_password(admin, names["role"])
    run_script(admin, names, "second-Zq8vT2mW9xK4")  # again, with a new password
    assert stored_password(admin, names["role"]) != first
    with connect_as(admin, names["role"], names["app"]) as api:
        api.execute("INSERT INTO feedback (correct) VALUES (false)")  # its sequence too
        owner = api.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'feedback'")
        assert owner.fetchone() == (names["role"],)
