"""Real parts on loopback: an S3 endpoint (moto_server), a fresh PostgreSQL database, and an
`mlflow server` in front of both; one of each per test session. Server logs go under the
session's tmp folder and failures quote them."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.badbuzz_cli import BADBUZZ, VENV_BIN
from tests.processes import Server, free_port

from .support import (
    MANUAL_TEST_FILE,
    S3,
    S3_KEYS,
    SENTIMENT140,
    TrackingServer,
    postgres_or_skip,
    wait_ready,
)


@pytest.fixture(scope="session")
def sentiment140() -> Path:
    """The shared Sentiment140 sample (training sample + manual test set)."""
    if not (SENTIMENT140 / "sample_train.csv.gz").is_file():
        pytest.skip(f"Sentiment140 sample not found: {SENTIMENT140}/sample_train.csv.gz")
    if not (SENTIMENT140 / MANUAL_TEST_FILE).is_file():
        pytest.skip(f"Sentiment140 manual test set not found: {SENTIMENT140}/{MANUAL_TEST_FILE}")
    if not BADBUZZ.exists():
        pytest.skip(f"{BADBUZZ} not installed (pip install -e '.[train,dev]')")
    return SENTIMENT140


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3]:
    executable = VENV_BIN / "moto_server"
    if not executable.exists():
        pytest.skip(f"{executable} not installed (pip install 'moto[server]')")
    port = free_port()
    server = Server.start(
        "moto_server",
        [str(executable), "-H", "127.0.0.1", "-p", str(port)],
        port=port,
        env=os.environ,
        workdir=tmp_path_factory.mktemp("moto"),
    )
    try:
        wait_ready(server, "/", need_ok=False)
        s3 = S3(server.url, f"badbuzz-it-{secrets.token_hex(4)}", server.log)
        s3.client().create_bucket(Bucket=s3.bucket)
        yield s3
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh database on the local PostgreSQL server, dropped at the end; its SQLAlchemy
    URI for MLflow."""
    with postgres_or_skip("badbuzz_it") as uri:
        yield uri


@pytest.fixture(scope="session")
def tracking_server(
    s3_endpoint: S3, postgres_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TrackingServer]:
    """`mlflow server` on PostgreSQL, proxying artifacts to the S3 bucket. Only the server's
    environment holds the S3 endpoint and keys."""
    port = free_port()
    env = {
        **os.environ,
        **S3_KEYS,
        "MLFLOW_S3_ENDPOINT_URL": s3_endpoint.endpoint,
        # No huey job consumers (GenAI jobs, unused here): they cost ~10 s of CPU at startup.
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    }
    command = [
        str(VENV_BIN / "mlflow"), "server",
        "--host", "127.0.0.1",
        "--port", str(port),
        "--backend-store-uri", postgres_database,
        "--serve-artifacts",
        "--artifacts-destination", f"s3://{s3_endpoint.bucket}",
        "--workers", "1",
    ]  # fmt: skip
    server = Server.start(
        "mlflow_server",
        command,
        port=port,
        env=env,
        workdir=tmp_path_factory.mktemp("mlflow-server"),
    )
    try:
        wait_ready(server, "/health")
        yield TrackingServer(server.url, s3_endpoint, server.log)
    finally:
        server.stop()
