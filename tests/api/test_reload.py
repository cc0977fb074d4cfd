"""Hot reload: moving the champion and POSTing /admin/reload swaps the served model; a new
version that fails to load leaves the old one serving. Runs on its own registered model (copies
of the trained versions, plus one with a broken bundle) so the other tests' aliases stay put."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from .conftest import EmbeddedStore, registry_client
from .support import API_KEY, KEY_HEADER, Api, metric_samples, start_api, start_apis, stop_all

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

NAME = "tweet-sentiment-reload"
TWEET = "thanks for nothing, 4 hours late and no food"


@dataclass
class Registry:
    client: MlflowClient
    first: str  # copy of the trained champion
    second: str  # copy of the best by precision
    broken_source: Path

    def promote(self, version: str) -> None:
        self.client.set_registered_model_alias(NAME, "champion", version)


def broken_bundle(directory: Path) -> Path:
    """A bundle whose files match their hashes but whose model is not a model: it loads, then
    fails its smoke test."""
    import joblib

    from badbuzz.bundle.manifest import Manifest
    from badbuzz.text import NormalizationConfig

    bundle = directory / "artifacts" / "bundle"
    bundle.mkdir(parents=True)
    joblib.dump({"not": "a pipeline"}, bundle / "model.joblib")
    Manifest(
        runtime="sklearn",
        model_file="model.joblib",
        normalization=NormalizationConfig().to_dict(),
        metadata={"model_family": "broken", "embedding_type": "tfidf"},
    ).write(bundle)
    return directory


@pytest.fixture(scope="module")
def registry(
    embedded_store: EmbeddedStore, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Registry]:
    client = registry_client(embedded_store.tracking_uri)
    client.create_registered_model(NAME)
    copies = []
    for version in (embedded_store.champion, embedded_store.best_precision):
        source = client.get_model_version("tweet-sentiment", version)
        assert source.source, source
        copy = client.create_model_version(
            NAME, source.source, run_id=source.run_id, tags=dict(source.tags)
        )
        copies.append(str(copy.version))
    registry = Registry(client, copies[0], copies[1], tmp_path_factory.mktemp("broken"))
    registry.promote(registry.first)
    yield registry
    client.delete_registered_model(NAME)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("reload")


def settings(store: EmbeddedStore, **extra: str) -> dict[str, str]:
    return {
        "MLFLOW_TRACKING_URI": store.tracking_uri,
        "BADBUZZ_MODEL_NAME": NAME,
        "BADBUZZ_API_KEY": API_KEY,
        **extra,
    }


@pytest.fixture(scope="module")
def reload_api(registry: Registry, embedded_store: EmbeddedStore, root: Path) -> Iterator[Api]:
    server = start_api(
        root / "home",
        root / "run",
        settings(embedded_store, BADBUZZ_MODEL_ALIAS="champion"),
        name="reload",
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def client(reload_api: Api) -> httpx.Client:
    return reload_api.client()


def score(client: httpx.Client) -> dict[str, Any]:
    response = client.post("/predict", json={"text": TWEET})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def info_version(client: httpx.Client) -> str:
    ((labels, _),) = metric_samples(client.get("/metrics").text, "badbuzz_model_info").items()
    return dict(labels)["version"]


@dataclass(frozen=True)
class Swap:
    before: dict[str, Any]
    reload: httpx.Response
    after: dict[str, Any]
    again: httpx.Response


@pytest.fixture(scope="module")
def swap(registry: Registry, client: httpx.Client) -> Swap:
    before = score(client)
    registry.promote(registry.second)
    reload = client.post("/admin/reload", headers=KEY_HEADER)
    after = score(client)
    again = client.post("/admin/reload", headers=KEY_HEADER)
    return Swap(before, reload, after, again)


def test_reload_swaps_to_the_new_champion(swap: Swap, registry: Registry) -> None:
    assert swap.before["model"]["version"] == registry.first
    assert swap.reload.status_code == 200, swap.reload.text
    assert swap.reload.json()["changed"] is True
    assert swap.reload.json()["version"] == registry.second
    assert swap.after["model"]["version"] == registry.second
    assert swap.after["probability_positive"] != swap.before["probability_positive"]


def test_a_second_reload_changes_nothing(swap: Swap, registry: Registry) -> None:
    assert swap.again.status_code == 200
    assert swap.again.json() == {
        "changed": False,
        "version": registry.second,
        "message": "already serving this version",
    }


def test_readiness_and_metrics_follow_the_swap(
    swap: Swap, client: httpx.Client, registry: Registry
) -> None:
    ready = client.get("/health/ready").json()
    assert ready["model"]["version"] == registry.second
    assert info_version(client) == registry.second


@dataclass(frozen=True)
class FailedReload:
    broken: str
    reload: httpx.Response
    after: dict[str, Any]
    ready: httpx.Response


@pytest.fixture(scope="module")
def failed_reload(swap: Swap, registry: Registry, client: httpx.Client) -> FailedReload:
    source = broken_bundle(registry.broken_source)
    broken = str(registry.client.create_model_version(NAME, str(source)).version)
    registry.promote(broken)
    reload = client.post("/admin/reload", headers=KEY_HEADER)
    return FailedReload(broken, reload, score(client), client.get("/health/ready"))


def test_a_broken_new_version_keeps_the_old_one_serving(
    failed_reload: FailedReload, swap: Swap, registry: Registry, client: httpx.Client
) -> None:
    assert failed_reload.reload.status_code == 200, failed_reload.reload.text
    body = failed_reload.reload.json()
    assert body["changed"] is False
    assert body["version"] == registry.second
    assert f"version {failed_reload.broken} failed to load" in body["message"]
    assert failed_reload.after["model"]["version"] == registry.second
    assert failed_reload.after["probability_positive"] == swap.after["probability_positive"]
    assert failed_reload.ready.status_code == 200
    assert info_version(client) == registry.second


@pytest.fixture(scope="module")
def restarts(
    failed_reload: FailedReload,
    reload_api: Api,
    embedded_store: EmbeddedStore,
    registry: Registry,
    root: Path,
) -> Iterator[dict[str, Api]]:
    """After the failed reload, the process is restarted twice, side by side:

    - `broken-champion`: same home, @champion still on the broken version, last_good.json on
      the version that served;
    - `corrupt-cache`: a copy of that home whose cached copy of the serving version was
      damaged, selecting by best precision (the broken version has no metric tags).
    """
    reload_api.stop()
    cache = root / "home" / "model-cache" / NAME
    corrupt_home = root / "corrupt-home"
    shutil.copytree(cache, corrupt_home / "model-cache" / NAME)
    last_good = corrupt_home / "model-cache" / NAME / "last_good.json"
    record = json.loads(last_good.read_text())
    assert record["version"] == registry.second
    record["directory"] = str(corrupt_home / "model-cache" / NAME / registry.second)
    last_good.write_text(json.dumps(record))
    with (corrupt_home / "model-cache" / NAME / registry.second / "model.joblib").open("ab") as f:
        f.write(b"bit rot")
    started = start_apis(
        [
            (
                "broken-champion",
                root / "home",
                root / "run-broken-champion",
                settings(embedded_store, BADBUZZ_MODEL_ALIAS="champion"),
            ),
            ("corrupt-cache", corrupt_home, root / "run-corrupt-cache", settings(embedded_store)),
        ]
    )
    try:
        yield started
    finally:
        stop_all(started.values())


def test_a_restart_with_a_broken_champion_serves_the_last_good_version(
    restarts: dict[str, Api], registry: Registry
) -> None:
    response = restarts["broken-champion"].client().get("/health/ready")
    assert response.status_code == 200, response.text
    assert response.json()["model"]["version"] == registry.second
    assert response.json()["stale"] is True


def test_a_damaged_cache_entry_is_downloaded_again(
    restarts: dict[str, Api], registry: Registry
) -> None:
    response = restarts["corrupt-cache"].client().get("/health/ready")
    assert response.status_code == 200, response.text
    assert response.json()["model"]["version"] == registry.second
    assert response.json()["stale"] is False
