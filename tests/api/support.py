"""Helpers for the API tests: `badbuzz serve` as a real process on loopback, its environment,
and a few reads of the registry and the manual test set done on the training side."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.badbuzz_cli import BADBUZZ, run_badbuzz
from tests.integration.support import MANUAL_TEST_FILE, SENTIMENT140, wait_ready
from tests.processes import (
    CLIENT_ENV_PREFIXES,
    NO_TELEMETRY,
    Server,
    ServerNotReady,
    clean_env,
    free_port,
)

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

API_KEY = "test-api-key-0123456789abcdef"
KEY_HEADER = {"X-API-Key": API_KEY}
MODEL = "tweet-sentiment"
API_STARTUP_TIMEOUT_S = 90.0
# MLflow retries a refused connection 7 times with exponential backoff (minutes in all);
# tests that stop the registry on purpose ask for no retries.
NO_MLFLOW_RETRIES = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"}


def base_env(home: Path, settings: Mapping[str, str] | None = None) -> dict[str, str]:
    """The shell's environment minus any AWS/MLflow/badbuzz settings, plus `settings`.

    The periodic registry check is off (tests reload explicitly) and MLflow's telemetry too.
    """
    return clean_env(
        {
            "BADBUZZ_HOME": str(home),
            "BADBUZZ_RELOAD_INTERVAL_S": "0",
            **NO_TELEMETRY,
            "PYTHONUNBUFFERED": "1",
            **(settings or {}),
        }
    )


@dataclass
class Api:
    """One `badbuzz serve` process (its own process group, log under `workdir`)."""

    server: Server
    home: Path
    env: dict[str, str]
    workdir: Path
    clients: list[httpx.Client] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def pid(self) -> int:
        return self.server.process.pid

    @property
    def launched_at(self) -> float:
        """`time.monotonic()` when the process was started."""
        return self.server.started_at

    @property
    def ingest_headers(self) -> dict[str, str]:
        """The key /predict* asks for when this server has one: its ingest key, else its API
        key (none: predictions are open)."""
        key = self.env.get("BADBUZZ_INGEST_KEY") or self.env.get("BADBUZZ_API_KEY")
        return {"X-API-Key": key} if key else {}

    def client(self, **kwargs: Any) -> httpx.Client:
        """A client that sends the ingest key, as the service that feeds the API would (a
        request's own headers replace it)."""
        headers = {**self.ingest_headers, **kwargs.pop("headers", {})}
        client = httpx.Client(base_url=self.url, timeout=30.0, headers=headers, **kwargs)
        self.clients.append(client)
        return client

    def wait_started(self, timeout_s: float = API_STARTUP_TIMEOUT_S) -> None:
        """Wait until the lifespan has run (uvicorn answers only then): /health/live is 200."""
        wait_ready(self.server, "/health/live", timeout_s=timeout_s)

    def answers_live_within(self, seconds: float) -> bool:
        try:
            self.server.wait_ready("/health/live", timeout_s=seconds)
        except ServerNotReady:
            return False
        return True

    def logs(self) -> str:
        return self.server.logs()

    def kill(self) -> None:
        """SIGKILL the process group at once (for a process stuck in its startup)."""
        self._close_clients()
        self.server.kill()

    def stop(self) -> None:
        """SIGTERM (uvicorn shuts down gracefully: the lifespan flushes the store), then KILL."""
        self._close_clients()
        self.server.stop()

    def _close_clients(self) -> None:
        for client in self.clients:
            client.close()
        self.clients.clear()


def launch_api(
    home: Path,
    workdir: Path,
    settings: Mapping[str, str] | None = None,
    name: str = "api",
    workers: int = 1,
) -> Api:
    """Start `badbuzz serve` without waiting; cwd is `workdir` so no project `.env` is read."""
    port = free_port()
    env = base_env(home, settings)
    command = [str(BADBUZZ), "serve", "--host", "127.0.0.1", "--port", str(port)]
    server = Server.start(
        name, [*command, "--workers", str(workers)], port=port, env=env, workdir=workdir
    )
    return Api(server, home, env, workdir)


def start_api(
    home: Path,
    workdir: Path,
    settings: Mapping[str, str] | None = None,
    name: str = "api",
    workers: int = 1,
) -> Api:
    api = launch_api(home, workdir, settings, name, workers)
    try:
        api.wait_started()
    except BaseException:
        api.stop()
        raise
    return api


def start_apis(specs: Iterable[tuple[str, Path, Path, Mapping[str, str]]]) -> dict[str, Api]:
    """Start several APIs at once (they import in parallel), then wait for each."""
    apis = {
        name: launch_api(home, workdir, settings, name) for name, home, workdir, settings in specs
    }
    try:
        for api in apis.values():
            api.wait_started()
    except BaseException:
        stop_all(apis.values())
        raise
    return apis


def stop_all(apis: Iterable[Api]) -> None:
    for api in apis:
        api.stop()


def run_serve(
    home: Path, workdir: Path, settings: Mapping[str, str], timeout_s: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """`badbuzz serve` expected to refuse to start: the finished process (killed, and the
    test failed, if it starts serving instead)."""
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        return run_badbuzz(
            "serve",
            "--port",
            str(free_port()),
            home=None,  # base_env sets it, and `settings` may override it
            base_env=base_env(home, settings),
            cwd=workdir,
            timeout=timeout_s,
            start_new_session=True,
        )
    except subprocess.TimeoutExpired as error:  # run() has killed it (uvicorn: one process)
        pytest.fail(f"badbuzz serve did not exit within {timeout_s} s: {error}")


def manual_tweets(count: int = 50) -> list[str]:
    """`count` tweets spread over the Sentiment140 manual test set, read by the training side."""
    from training.data.sentiment140 import read_sentiment140

    frame = read_sentiment140(SENTIMENT140 / MANUAL_TEST_FILE, keep_neutral=True)
    texts = frame["text"].tolist()
    step = max(1, len(texts) // count)
    return [str(t) for t in texts[::step][:count]]


def metric_samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The samples of one metric family in Prometheus text format, by sorted label pairs."""
    from prometheus_client.parser import text_string_to_metric_families

    samples: dict[tuple[tuple[str, str], ...], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                samples[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


@contextmanager
def serving(
    home: Path, bundle: Path, headers: Mapping[str, str] | None = None, **settings: Any
) -> Iterator[TestClient]:
    """The app in this process (TestClient, lifespan included) on `bundle` with `settings`,
    none read from the shell; `headers` on every request."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from badbuzz.settings import ApiSettings

    with pytest.MonkeyPatch.context() as env:
        for name in [n for n in os.environ if n.startswith(CLIENT_ENV_PREFIXES)]:
            env.delenv(name)
        values: dict[str, Any] = {"_env_file": None, "home": home, "model_bundle": bundle}
        app = create_app(ApiSettings(**(values | {"reload_interval_s": 0} | settings)))
        with TestClient(app, headers=dict(headers or {})) as client:
            yield client
