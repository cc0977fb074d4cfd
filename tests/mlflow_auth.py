"""`mlflow server --app-name basic-auth` as compose/mlflow runs it: the image's
`basic_auth.ini` (its user store moved to a work folder), an admin created from the
environment at first start. The stack test and `bench.mlflow_auth` start it; no pytest here."""

from __future__ import annotations

import configparser
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from tests.processes import Server, free_port

COMPOSE_AUTH_CONFIG = Path(__file__).resolve().parents[1] / "compose" / "mlflow" / "basic_auth.ini"
ADMIN = ("admin", "e2e-admin-password-0123456789")
MLFLOW = Path(sys.executable).parent / "mlflow"


def auth_config(workdir: Path, overrides: Mapping[str, str] | None = None) -> Path:
    """compose/mlflow/basic_auth.ini with the user store in `workdir` and `overrides` set."""
    config = configparser.ConfigParser()
    config.read(COMPOSE_AUTH_CONFIG)
    config["mlflow"]["database_uri"] = f"sqlite:///{workdir / 'basic_auth.db'}"
    config["mlflow"].update(overrides or {})
    path = workdir / "basic_auth.ini"
    with path.open("w") as out:
        config.write(out)
    return path


def start_mlflow_with_basic_auth(
    backend_store: str,
    artifacts_destination: str,
    workdir: Path,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
    timeout_s: float = 120.0,
) -> Server:
    """The server on a free loopback port, ready (`/health`), with one worker; `env` adds to
    this process's environment (an S3 endpoint and its keys, say). Raises `ServerNotReady`
    with the server's log if it never gets ready."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server_env = {
        **os.environ,
        **(env or {}),
        "MLFLOW_AUTH_CONFIG_PATH": str(auth_config(workdir, overrides)),
        "MLFLOW_AUTH_ADMIN_USERNAME": ADMIN[0],
        "MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN[1],
        "MLFLOW_FLASK_SERVER_SECRET_KEY": "e2e-flask-secret-0123456789",
        # No huey job consumers (GenAI jobs, unused here): they cost ~10 s of CPU at startup.
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    }
    command = [
        str(MLFLOW), "server", "--app-name", "basic-auth",
        "--host", "127.0.0.1", "--port", str(port),
        "--backend-store-uri", backend_store,
        "--serve-artifacts", "--artifacts-destination", artifacts_destination,
        "--workers", "1",
    ]  # fmt: skip
    server = Server.start("mlflow_auth", command, port=port, env=server_env, workdir=workdir)
    try:
        server.wait_ready("/health", timeout_s=timeout_s)
    except BaseException:
        server.stop()
        raise
    return server
