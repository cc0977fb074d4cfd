"""The API against the real tracking stack (`mlflow server` on PostgreSQL, artifacts proxied to
S3), then with that server gone: a restart serves the cached last good model, marked stale;
with no cache either, the process still starts and says why it is not ready."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.support import Cli, TrackingServer
from tests.processes import free_port

from .conftest import best_by, champion_apart_from, check, registry_client, version_tags
from .support import (
    MODEL,
    NO_MLFLOW_RETRIES,
    Api,
    launch_api,
    manual_tweets,
    start_apis,
    stop_all,
)

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class ServerModels:
    versions: dict[str, dict[str, str]]
    champion: str
    best_precision: str


@pytest.fixture(scope="module")
def server_models(
    tracking_server: TrackingServer, sentiment140: Path, tmp_path_factory: pytest.TempPathFactory
) -> ServerModels:
    """nb + logreg trained by the CLI against the server; the champion promoted, and kept
    apart from the best by positive precision."""
    cli = Cli(
        tmp_path_factory.mktemp("api-server-client") / "home",
        sentiment140,
        tracking_server.uri,
        tracking_server,
    )
    check(cli, "train", "baseline", "--models", "nb,logreg", "--sample", "2000")
    check(cli, "promote", "--metric", "positive_recall")
    client = registry_client(tracking_server.uri)
    versions = version_tags(client)
    best = best_by(versions)
    return ServerModels(versions, champion_apart_from(client, best, versions), best)


@pytest.fixture(scope="module")
def tweets() -> list[str]:
    return manual_tweets(20)


def scores(api: Api, tweets: list[str]) -> list[float]:
    response = api.client().post("/predict/batch", json={"texts": tweets})
    assert response.status_code == 200, response.text
    return [p["probability_positive"] for p in response.json()["predictions"]]


def readiness(api: Api) -> httpx.Response:
    return api.client().get("/health/ready")


@dataclass(frozen=True)
class Online:
    home: Path
    champion_ready: dict[str, Any]
    champion_scores: list[float]
    best_ready: dict[str, Any]


@pytest.fixture(scope="module")
def online(
    server_models: ServerModels,
    tracking_server: TrackingServer,
    tweets: list[str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Online:
    """Two APIs on the live server (by alias, by best precision); stopped once answered."""
    root = tmp_path_factory.mktemp("registry-online")
    server = {"MLFLOW_TRACKING_URI": tracking_server.uri}
    apis = start_apis(
        [
            ("champion", root / "home", root / "run-champion",
             {**server, "BADBUZZ_MODEL_ALIAS": "champion"}),
            ("best", root / "home-best", root / "run-best", server),
        ]
    )  # fmt: skip
    try:
        champion = readiness(apis["champion"])
        best = readiness(apis["best"])
        assert champion.status_code == 200, f"{champion.text}\n{tracking_server.logs()}"
        assert best.status_code == 200, f"{best.text}\n{tracking_server.logs()}"
        return Online(root / "home", champion.json(), scores(apis["champion"], tweets), best.json())
    finally:
        stop_all(apis.values())


def test_alias_is_served_from_the_server(online: Online, server_models: ServerModels) -> None:
    assert online.champion_ready["model"]["version"] == server_models.champion
    assert online.champion_ready["stale"] is False


def test_best_precision_is_served_from_the_server(
    online: Online, server_models: ServerModels
) -> None:
    assert online.best_ready["model"]["version"] == server_models.best_precision
    assert server_models.best_precision != server_models.champion


def test_the_bundle_is_cached_on_disk(online: Online, server_models: ServerModels) -> None:
    cache = online.home / "model-cache" / MODEL
    assert (cache / server_models.champion / "manifest.json").is_file()
    assert (cache / "last_good.json").is_file()


@pytest.fixture(scope="module")
def offline(online: Online, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Api]]:
    """The registry gone (a port nobody listens on): a restart on the warm cache, one on an
    empty home (both with MLflow's HTTP retries off), and one on the warm cache with MLflow's
    default retries, which is only launched (its startup is what one test watches)."""
    root = tmp_path_factory.mktemp("registry-offline")
    dead = {"MLFLOW_TRACKING_URI": f"http://127.0.0.1:{free_port()}"}
    default_retries = launch_api(
        online.home, root / "run-default-retries",
        {**dead, "BADBUZZ_MODEL_ALIAS": "champion"}, name="default-retries",
    )  # fmt: skip
    try:
        apis = start_apis(
            [
                ("cached", online.home, root / "run-cached",
                 {**dead, **NO_MLFLOW_RETRIES, "BADBUZZ_MODEL_ALIAS": "champion"}),
                ("empty", root / "empty-home", root / "run-empty",
                 {**dead, **NO_MLFLOW_RETRIES, "BADBUZZ_MODEL_ALIAS": "champion"}),
            ]
        )  # fmt: skip
    except BaseException:
        default_retries.kill()
        raise
    apis["default-retries"] = default_retries
    try:
        yield apis
    finally:
        default_retries.kill()  # blocked in its startup, it would ignore SIGTERM
        stop_all(apis.values())


def test_restart_without_registry_serves_the_cached_version_as_stale(
    offline: dict[str, Api], online: Online, server_models: ServerModels
) -> None:
    response = readiness(offline["cached"])
    assert response.status_code == 200, f"{response.text}\n{offline['cached'].logs()}"
    body = response.json()
    assert body["stale"] is True
    assert body["stale_reason"], body
    assert body["model"] == online.champion_ready["model"]
    assert body["model"]["version"] == server_models.champion
    assert offline["cached"].client().get("/model").json()["stale"] is True


def test_restart_without_registry_gives_the_same_scores(
    offline: dict[str, Api], online: Online, tweets: list[str]
) -> None:
    assert scores(offline["cached"], tweets) == online.champion_scores


def test_no_registry_and_no_cache_starts_but_is_not_ready(offline: dict[str, Api]) -> None:
    client = offline["empty"].client()
    assert client.get("/health/live").status_code == 200
    response = client.get("/health/ready")
    assert response.status_code == 503
    reason = response.json()["reason"]
    assert "no cached model" in reason, reason
    predicted = client.post("/predict", json={"text": "any tweet"})
    assert predicted.status_code == 503
    assert "no cached model" in predicted.json()["detail"]


def test_with_default_mlflow_retries_a_dead_registry_still_gives_a_fast_start(
    offline: dict[str, Api],
) -> None:
    api = offline["default-retries"]
    waited = time.monotonic() - api.launched_at
    assert api.answers_live_within(max(0.0, 20.0 - waited)), "no /health/live within 20 s"
    response = api.client().get("/health/ready")
    assert response.status_code == 200 and response.json()["stale"] is True
