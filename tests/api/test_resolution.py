"""Which model the API serves, against the embedded MLflow store that `badbuzz train` filled:
by alias, by best precision, filtered by embedding type, or a local bundle (folder or .tar.gz)
with no registry at all; and a clear 503 when nothing matches."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from .conftest import EmbeddedStore
from .support import Api, start_apis, stop_all

TWEETS = ["worst airline ever, they lost my bag", "thank you for the upgrade, amazing crew"]


@pytest.fixture(scope="module")
def archive(local_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from badbuzz.bundle.archive import pack

    return pack(local_bundle, tmp_path_factory.mktemp("archive") / "tweet-sentiment.tar.gz")


@pytest.fixture(scope="module")
def apis(
    embedded_store: EmbeddedStore, archive: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Api]]:
    """One API per way of choosing, started together. `alias` runs on the store's own home
    with no tracking URI (the embedded default, as `make demo` does); the others have their
    own home (cache, database) and point MLFLOW_TRACKING_URI at the store."""
    root = tmp_path_factory.mktemp("resolution")
    store = {"MLFLOW_TRACKING_URI": embedded_store.tracking_uri}
    specs = {
        "alias": (embedded_store.home, {"BADBUZZ_MODEL_ALIAS": "champion"}),
        "best": (root / "best", store),
        "bow": (root / "bow", {**store, "BADBUZZ_EMBEDDING_TYPE": "bow"}),
        "no-match": (root / "no-match", {**store, "BADBUZZ_EMBEDDING_TYPE": "glove"}),
        "no-alias": (root / "no-alias", {**store, "BADBUZZ_MODEL_ALIAS": "nope"}),
        "archive": (root / "archive", {"BADBUZZ_MODEL_BUNDLE": str(archive)}),
    }
    started = start_apis(
        (name, home, root / f"run-{name}", settings) for name, (home, settings) in specs.items()
    )
    try:
        yield started
    finally:
        stop_all(started.values())


def ready(api: Api) -> httpx.Response:
    return api.client().get("/health/ready")


def served_version(api: Api) -> str:
    response = ready(api)
    assert response.status_code == 200, f"{response.text}\n{api.logs()}"
    body = response.json()
    assert body["ready"] is True and body["stale"] is False, body
    version: str = body["model"]["version"]
    return version


def predict(api: Api) -> list[dict[str, Any]]:
    client = api.client()
    answers = []
    for tweet in TWEETS:
        response = client.post("/predict", json={"text": tweet})
        assert response.status_code == 200, response.text
        answers.append(response.json())
    return answers


def test_alias_serves_the_promoted_version(
    apis: dict[str, Api], embedded_store: EmbeddedStore
) -> None:
    api = apis["alias"]
    assert served_version(api) == embedded_store.champion
    assert {a["model"]["version"] for a in predict(api)} == {embedded_store.champion}
    card = api.client().get("/model").json()
    assert card["tags"] == embedded_store.versions[embedded_store.champion]
    assert card["runtime"] == "sklearn"
    assert (embedded_store.home / "model-cache" / "tweet-sentiment" / "last_good.json").is_file()


def test_without_alias_the_best_precision_is_served(
    apis: dict[str, Api], embedded_store: EmbeddedStore
) -> None:
    api = apis["best"]
    assert served_version(api) == embedded_store.best_precision
    card = api.client().get("/model").json()
    assert (
        card["tags"]["positive_precision"]
        == embedded_store.versions[embedded_store.best_precision]["positive_precision"]
    )


def test_embedding_type_filter_serves_the_bow_version(
    apis: dict[str, Api], embedded_store: EmbeddedStore
) -> None:
    api = apis["bow"]
    assert served_version(api) == embedded_store.bow
    for answer in predict(api):
        assert answer["model"] == {
            "name": "tweet-sentiment",
            "version": embedded_store.bow,
            "embedding_type": "bow",
            "model_family": "logistic_regression",
        }


def test_three_ways_serve_three_models(apis: dict[str, Api]) -> None:
    scores = {
        name: tuple(a["probability_positive"] for a in predict(apis[name]))
        for name in ("alias", "best", "bow")
    }
    assert len(set(scores.values())) == 3, scores


def test_a_filter_matching_nothing_is_not_ready_with_a_reason(apis: dict[str, Api]) -> None:
    api = apis["no-match"]
    client = api.client()
    assert client.get("/health/live").status_code == 200
    response = ready(api)
    assert response.status_code == 503
    body = response.json()
    assert body["ready"] is False
    assert "embedding_type=glove" in body["reason"], body
    predicted = client.post("/predict", json={"text": "any tweet"})
    assert predicted.status_code == 503
    assert "no model loaded" in predicted.json()["detail"]
    assert "embedding_type=glove" in predicted.json()["detail"]
    assert client.post("/predict/batch", json={"texts": ["a", "b"]}).status_code == 503
    assert client.get("/model").status_code == 503


def test_an_unknown_alias_is_not_ready_and_names_it(apis: dict[str, Api]) -> None:
    response = ready(apis["no-alias"])
    assert response.status_code == 503
    assert "nope" in response.json()["reason"], response.json()


def test_an_unknown_alias_is_not_called_an_unreachable_registry(apis: dict[str, Api]) -> None:
    reason = ready(apis["no-alias"]).json()["reason"]
    assert "unreachable" not in reason, reason


def test_a_local_bundle_folder_is_served_without_registry(api: Api, local_bundle: Path) -> None:
    from badbuzz.bundle.manifest import Manifest

    assert served_version(api) == "local"
    card = api.client().get("/model").json()
    manifest = Manifest.read(local_bundle)
    assert card["metrics"] == manifest.metadata["metrics"]
    assert card["model_family"] == manifest.metadata["model_family"]
    assert card["threshold"] == manifest.threshold


def test_a_bundle_archive_is_served_with_the_same_scores(
    apis: dict[str, Api], api: Api, local_bundle: Path
) -> None:
    from badbuzz.bundle.model import ModelBundle

    served = apis["archive"]
    assert served_version(served) == "local"
    from_archive = [float(a["probability_positive"]) for a in predict(served)]
    from_folder = [float(a["probability_positive"]) for a in predict(api)]
    expected = ModelBundle.load(local_bundle).predict_proba(TWEETS)
    np.testing.assert_allclose(from_archive, expected, rtol=0, atol=1e-9)
    assert from_archive == from_folder


@pytest.fixture(scope="module")
def replaced_archive(
    apis: dict[str, Api],
    archive: Path,
    embedded_store: EmbeddedStore,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Api, Path]]:
    """The archive file replaced by another version's bundle (a new image or a new file on
    the NAS), and the API restarted on the same home."""
    from badbuzz.bundle.archive import pack
    from badbuzz.registry import download_bundle

    from .conftest import registry_client

    registry_client(embedded_store.tracking_uri)
    other = download_bundle(
        f"models:/tweet-sentiment/{embedded_store.bow}", tmp_path_factory.mktemp("other")
    )
    pack(other, archive)
    first = apis["archive"]
    restarted = start_apis(
        [("archive-replaced", first.home, first.workdir.parent / "run-archive-replaced",
          {"BADBUZZ_MODEL_BUNDLE": str(archive)})]
    )["archive-replaced"]  # fmt: skip
    try:
        yield restarted, other
    finally:
        restarted.stop()


def test_a_replaced_archive_is_served_after_a_restart(
    replaced_archive: tuple[Api, Path],
) -> None:
    from badbuzz.bundle.model import ModelBundle

    api, other = replaced_archive
    served = [float(a["probability_positive"]) for a in predict(api)]
    expected = ModelBundle.load(other).predict_proba(TWEETS)
    np.testing.assert_allclose(served, expected, rtol=0, atol=1e-9)
