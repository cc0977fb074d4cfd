"""Helpers for the integration tests: start/stop real servers on loopback, run the CLI."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import shared_sentiment140

VENV_BIN = Path(sys.executable).parent
BADBUZZ = VENV_BIN / "badbuzz"
SENTIMENT140 = shared_sentiment140()
MANUAL_TEST_FILE = "testdata.manual.2009.06.14.csv"
# Admin connection to the local server; each session creates (and drops) its own database.
PG_ADMIN_URI = os.environ.get("BADBUZZ_IT_PG_URI", "postgresql://postgres@127.0.0.1:5432/test")
S3_KEYS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
# Settings that must not leak from the developer's shell into the client side of a test.
CLIENT_ENV_PREFIXES = ("AWS_", "MLFLOW_", "BADBUZZ_")
STARTUP_TIMEOUT_S = 60.0
CLI_TIMEOUT_S = 240.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def log_tail(path: Path, chars: int = 6000) -> str:
    text = path.read_text(errors="replace") if path.exists() else "(no log)"
    return f"--- {path} (last {chars} chars) ---\n{text[-chars:]}"


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(
        cls, name: str, command: list[str], env: Mapping[str, str], workdir: Path, url: str
    ) -> Server:
        """Start in a new session (its own process group), output to `workdir/NAME.log`."""
        log = workdir / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                command,
                env=dict(env),
                cwd=workdir,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return cls(name, url, process, log)

    def wait_ready(self, path: str, *, need_ok: bool) -> None:
        """Poll until the server answers (with 200 when `need_ok`); fail with its log if not."""
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        last_error = "no answer"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(
                    f"{self.name} exited with {self.process.returncode} during startup\n"
                    f"{log_tail(self.log)}"
                )
            try:
                with urllib.request.urlopen(self.url + path, timeout=2) as response:
                    if response.status == 200 or not need_ok:
                        return
                    last_error = f"HTTP {response.status}"
            except urllib.error.HTTPError as error:
                if not need_ok:
                    return
                last_error = f"HTTP {error.code}"
            except OSError as error:
                last_error = str(error)
            time.sleep(0.5)
        self.stop()
        pytest.fail(
            f"{self.name} not ready at {self.url}{path} after {STARTUP_TIMEOUT_S:.0f} s "
            f"({last_error})\n{log_tail(self.log)}"
        )

    def stop(self) -> None:
        """Stop the whole process group (mlflow server forks uvicorn workers)."""
        if self.process.poll() is not None:
            return
        for sig, grace in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.process.wait(timeout=grace)
                return
            except subprocess.TimeoutExpired:
                continue


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

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(CLIENT_ENV_PREFIXES)}
        env.update({"BADBUZZ_HOME": str(self.home), "BADBUZZ_SENTIMENT140": str(self.data)})
        if self.tracking_uri:
            env["MLFLOW_TRACKING_URI"] = self.tracking_uri
        return env

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BADBUZZ), *args],
            env=self.env,
            cwd=self.home.parent,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_S,
            check=False,
        )

    def explain(self, result: subprocess.CompletedProcess[str]) -> str:
        """Everything needed to understand a failed call: its output and the server logs."""
        command = " ".join(str(a) for a in result.args)
        logs = self.server.logs() if self.server else ""
        return (
            f"`{command}` exited {result.returncode}\n--- stdout ---\n{result.stdout[-6000:]}\n"
            f"--- stderr ---\n{result.stderr[-6000:]}\n{logs}"
        )
