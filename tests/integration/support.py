"""Helpers for the integration tests: real servers on loopback, a throwaway PostgreSQL
database, the CLI; `tests.processes` does the work, these turn its errors into pytest's."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.badbuzz_cli import run_badbuzz
from tests.processes import (
    PostgresUnavailable,
    Server,
    ServerNotReady,
    clean_env,
    log_tail,
    throwaway_postgres,
    unavailable,
)
from tests.shared_data import shared_sentiment140

SENTIMENT140 = shared_sentiment140()
MANUAL_TEST_FILE = "testdata.manual.2009.06.14.csv"
S3_KEYS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
CLI_TIMEOUT_S = 240.0


def wait_ready(server: Server, path: str, *, timeout_s: float = 60.0, need_ok: bool = True) -> None:
    """`server.wait_ready`, the test failed with the server's log if it never gets ready."""
    try:
        server.wait_ready(path, timeout_s=timeout_s, need_ok=need_ok)
    except ServerNotReady as error:
        pytest.fail(str(error))


@contextlib.contextmanager
def postgres_or_skip(prefix: str) -> Iterator[str]:
    """A throwaway database on the local PostgreSQL server; the test skipped without one."""
    try:
        with throwaway_postgres(prefix) as url:
            yield url
    except PostgresUnavailable as error:
        unavailable(str(error))


@dataclass(frozen=True)
class S3:
    endpoint: str
    bucket: str
    log: Path

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=S3_KEYS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=S3_KEYS["AWS_SECRET_ACCESS_KEY"],
            region_name=S3_KEYS["AWS_DEFAULT_REGION"],
        )

    def keys(self) -> list[str]:
        paginator = self.client().get_paginator("list_objects_v2")
        return [
            item["Key"]
            for page in paginator.paginate(Bucket=self.bucket)
            for item in page.get("Contents", [])
        ]


@dataclass(frozen=True)
class TrackingServer:
    uri: str
    s3: S3
    log: Path

    def logs(self) -> str:
        return f"{log_tail(self.log)}\n{log_tail(self.s3.log, 2000)}"


@dataclass(frozen=True)
class Cli:
    """The installed `badbuzz` entry point with a user's environment: the shell's minus any
    AWS/MLflow/badbuzz settings, plus BADBUZZ_HOME, BADBUZZ_SENTIMENT140 and, for a server,
    MLFLOW_TRACKING_URI. Runs in `home`'s parent so no project `.env` is read."""

    home: Path
    data: Path
    tracking_uri: str | None = None
    server: TrackingServer | None = None
    login: tuple[str, str] | None = None  # a server with basic auth: (user, password)

    @property
    def env(self) -> dict[str, str]:
        env = clean_env({"BADBUZZ_HOME": str(self.home), "BADBUZZ_SENTIMENT140": str(self.data)})
        if self.tracking_uri:
            env["MLFLOW_TRACKING_URI"] = self.tracking_uri
        if self.login:
            env["MLFLOW_TRACKING_USERNAME"], env["MLFLOW_TRACKING_PASSWORD"] = self.login
        return env

    def __call__(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        """`badbuzz *args`, with `env` added to the user's environment."""
        return run_badbuzz(
            *args,
            home=self.home,
            base_env=self.env,
            env=env,
            cwd=self.home.parent,
            timeout=CLI_TIMEOUT_S,
        )

    def explain(self, result: subprocess.CompletedProcess[str]) -> str:
        """Everything needed to understand a failed call: its output and the server logs."""
        command = " ".join(str(a) for a in result.args)
        logs = self.server.logs() if self.server else ""
        return (
            f"`{command}` exited {result.returncode}\n--- stdout ---\n{result.stdout[-6000:]}\n"
            f"--- stderr ---\n{result.stderr[-6000:]}\n{logs}"
        )
