"""Helpers for the API tests: `badbuzz serve` as a real process on loopback, its environment,
and a few reads of the registry and the manual test set done on the training side."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.support import (
    BADBUZZ,
    CLIENT_ENV_PREFIXES,
    MANUAL_TEST_FILE,
    SENTIMENT140,
    Server,
    free_port,
    log_tail,
)

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
    env = {k: v for k, v in os.environ.items() if not k.startswith(CLIENT_ENV_PREFIXES)}
    env.update(
        {
            "BADBUZZ_HOME": str(home),
            "BADBUZZ_RELOAD_INTERVAL_S": "0",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "DO_NOT_TRACK": "true",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(settings or {})
    return env


@dataclass
class Api:
    """One `badbuzz serve` process (its own process group, log under `workdir`)."""

    server: Server
    home: Path
    env: dict[str, str]
    workdir: Path
    clients: list[httpx.Client] = field(default_factory=list)
    launched_at: float = field(default_factory=time.monotonic)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def pid(self) -> int:
        return self.server.process.pid

    def client(self, **kwargs: Any) -> httpx.Client:
        client = httpx.Client(base_url=self.url, timeout=30.0, **kwargs)
        self.clients.append(client)
        return client

    def wait_started(self, timeout_s: float = API_STARTUP_TIMEOUT_S) -> None:
        """Wait until the lifespan has run (uvicorn answers only then): /health/live is 200."""
        deadline = time.monotonic() + timeout_s
        last = "no answer"
        while time.monotonic() < deadline:
            if self.server.process.poll() is not None:
                pytest.fail(
                    f"badbuzz serve exited with {self.server.process.returncode} during "
                    f"startup\n{self.logs()}"
                )
            try:
                response = httpx.get(f"{self.url}/health/live", timeout=2.0)
                if response.status_code == 200:
                    return
                last = f"HTTP {response.status_code}"
            except httpx.HTTPError as error:
                last = repr(error)
            time.sleep(0.2)
        self.stop()
        pytest.fail(f"badbuzz serve not live after {timeout_s:.0f} s ({last})\n{self.logs()}")

    def answers_live_within(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and self.server.process.poll() is None:
            try:
                if httpx.get(f"{self.url}/health/live", timeout=1.0).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        return False

    def logs(self) -> str:
        return log_tail(self.server.log)

    def kill(self) -> None:
        """SIGKILL the process group at once (for a process stuck in its startup)."""
        for client in self.clients:
            client.close()
        self.clients.clear()
        if self.server.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.server.process.pid, signal.SIGKILL)
            self.server.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM (uvicorn shuts down gracefully: the lifespan flushes the store), then KILL."""
        for client in self.clients:
            client.close()
        self.clients.clear()
        self.server.stop()


def launch_api(
    home: Path,
    workdir: Path,
    settings: Mapping[str, str] | None = None,
    name: str = "api",
    workers: int = 1,
) -> Api:
    """Start `badbuzz serve` without waiting; cwd is `workdir` so no project `.env` is read."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = base_env(home, settings)
    command = [str(BADBUZZ), "serve", "--host", "127.0.0.1", "--port", str(port)]
    server = Server.start(
        name,
        [*command, "--workers", str(workers)],
        env,
        workdir,
        f"http://127.0.0.1:{port}",
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
    api.wait_started()
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
        return subprocess.run(
            [str(BADBUZZ), "serve", "--port", str(free_port())],
            env=base_env(home, settings),
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
            start_new_session=True,
        )
    except subprocess.TimeoutExpired as error:  # run() has killed it (uvicorn: one process)
        pytest.fail(f"badbuzz serve did not exit within {timeout_s} s: {error}")


def manual_tweets(count: int = 50) -> list[str]:
    """`count` tweets spread over the Sentiment140 manual test set, read by the training side."""
    from training.data import read_sentiment140

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
