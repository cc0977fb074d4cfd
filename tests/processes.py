"""Real processes for tests and benchmarks: a free loopback port, a clean environment, a server
in its own process group (started, waited for, stopped) and a throwaway PostgreSQL database.

No pytest here (the benchmarks use it too): failures raise `ServerNotReady` or
`PostgresUnavailable`, which the test fixtures turn into a failure or a skip.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import NoReturn

import httpx
import pytest

# Settings that must not leak from the developer's shell into a process under test.
CLIENT_ENV_PREFIXES = ("AWS_", "MLFLOW_", "BADBUZZ_")
NO_TELEMETRY = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


class ServerNotReady(RuntimeError):
    """A server exited during its startup or never answered; the message quotes its log."""


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server answers at the admin URI."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clean_env(settings: Mapping[str, str] | None = None) -> dict[str, str]:
    """The shell's environment minus any AWS/MLflow/badbuzz settings, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(CLIENT_ENV_PREFIXES)}
    env.update(settings or {})
    return env


def log_tail(path: Path, chars: int = 6000) -> str:
    text = path.read_text(errors="replace") if path.exists() else "(no log)"
    return f"--- {path} (last {chars} chars) ---\n{text[-chars:]}"


@dataclass
class Server:
    """A server process on 127.0.0.1 in its own process group, its output in `log`."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    started_at: float  # time.monotonic() just before the process was started

    @classmethod
    def start(
        cls,
        name: str,
        command: Sequence[str],
        *,
        port: int,
        env: Mapping[str, str],
        workdir: Path,
    ) -> Server:
        """Start `command` (which listens on `port`) in `workdir`, output to `workdir/NAME.log`."""
        workdir.mkdir(parents=True, exist_ok=True)
        log = workdir / f"{name}.log"
        with log.open("wb") as out:
            started_at = time.monotonic()
            process = subprocess.Popen(
                list(command),
                env=dict(env),
                cwd=workdir,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return cls(name, f"http://127.0.0.1:{port}", process, log, started_at)

    def wait_ready(
        self, path: str, *, timeout_s: float = 60.0, poll_s: float = 0.2, need_ok: bool = True
    ) -> float:
        """Poll `path` until it answers 200 (any HTTP answer unless `need_ok`); the seconds
        from the process start. Raises `ServerNotReady` if the process exits or the time runs
        out; the process is left to the caller to stop."""
        deadline = time.monotonic() + timeout_s
        last = "no answer"
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise ServerNotReady(
                        f"{self.name} exited with {self.process.returncode} during startup\n"
                        f"{self.logs()}"
                    )
                try:
                    response = client.get(self.url + path)
                except httpx.HTTPError as error:
                    last = repr(error)
                else:
                    if response.status_code == 200 or not need_ok:
                        return time.monotonic() - self.started_at
                    last = f"HTTP {response.status_code}"
                time.sleep(poll_s)
        raise ServerNotReady(
            f"{self.name} not ready at {self.url}{path} after {timeout_s:.0f} s ({last})\n"
            f"{self.logs()}"
        )

    def logs(self) -> str:
        return log_tail(self.log)

    def stop(self) -> None:
        """TERM the whole process group (servers fork workers), KILL what is left after 15 s."""
        self._signal_group((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0))

    def kill(self) -> None:
        """KILL the process group at once (a process blocked in its startup ignores TERM)."""
        self._signal_group((signal.SIGKILL, 10.0))

    def _signal_group(self, *steps: tuple[signal.Signals, float]) -> None:
        for sig, grace_s in steps:
            if self.process.poll() is not None:
                return
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                return
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=grace_s)

    def __enter__(self) -> Server:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


@contextlib.contextmanager
def throwaway_postgres(prefix: str, admin_uri: str | None = None) -> Iterator[str]:
    """A new database named `PREFIX_<random>` on the local PostgreSQL server (`admin_uri`, else
    BADBUZZ_IT_PG_URI, else LOCAL_POSTGRES): its SQLAlchemy URL, and the database dropped on
    exit even if clients are still connected."""
    import psycopg
    from psycopg import sql

    admin_uri = admin_uri or os.environ.get("BADBUZZ_IT_PG_URI", LOCAL_POSTGRES)
    try:
        admin = psycopg.connect(admin_uri, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        raise PostgresUnavailable(f"PostgreSQL not reachable at {admin_uri}: {error}") from error
    name = f"{prefix}_{secrets.token_hex(4)}"
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        info = admin.info
        url = f"postgresql+psycopg://{info.user}@{info.host}:{info.port}/{name}"
    try:
        yield url
    finally:
        with psycopg.connect(admin_uri, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def unavailable(reason: str) -> NoReturn:
    """A part a test needs is missing (PostgreSQL, the shared data): skipped on a developer's
    box, a failure when `CI` is set, so a broken CI set-up never passes green."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: a missing part fails the run)", pytrace=False)
    pytest.skip(reason)
