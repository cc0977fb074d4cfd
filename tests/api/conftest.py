"""Fixtures of the API tests: small real models trained with the CLI into an embedded MLflow
store, one bundle exported from it, and the main API process serving that bundle.

The real S3 / PostgreSQL / `mlflow server` fixtures are the integration suite's, imported so
that pytest registers them here too (pytest_plugins is only allowed in the root conftest).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.integration import conftest as integration
from tests.integration.support import Cli

from .support import API_KEY, MODEL, Api, start_api

# The integration suite's real servers, registered as fixtures of this folder too.
sentiment140 = integration.sentiment140
s3_endpoint = integration.s3_endpoint
postgres_database = integration.postgres_database
tracking_server = integration.tracking_server

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

SAMPLE = "2000"


def registry_client(tracking_uri: str) -> MlflowClient:
    """A client of `tracking_uri`, also made MLflow's default in this process (resolving a
    `models:/` source or downloading artifacts goes through the default)."""
    import mlflow
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def version_tags(client: MlflowClient, name: str = MODEL) -> dict[str, dict[str, str]]:
    return {
        str(mv.version): dict(mv.tags or {})
        for mv in client.search_model_versions(f"name='{name}'")
    }


def best_by(
    versions: dict[str, dict[str, str]],
    metric: str = "positive_precision",
    min_positive_recall: float = 0.5,
    embedding_type: str | None = None,
) -> str:
    """The version the API should pick, computed here from the tags (not with the registry
    code under test): highest `metric` among those with positive recall >= the floor, newest on
    ties."""

    def number(tags: dict[str, str], key: str) -> float:
        try:
            value = float(tags[key])
        except (KeyError, ValueError):
            return math.nan
        return value

    eligible = [
        (number(tags, metric), int(version))
        for version, tags in versions.items()
        if (embedding_type is None or tags.get("embedding_type") == embedding_type)
        and not math.isnan(number(tags, metric))
        and number(tags, "positive_recall") >= min_positive_recall
    ]
    assert eligible, (
        f"no version has {metric} with positive_recall >= {min_positive_recall}: {versions}"
    )
    return str(max(eligible)[1])


@dataclass(frozen=True)
class EmbeddedStore:
    """The embedded MLflow store (SQLite + local artifacts) that `badbuzz train` filled."""

    home: Path
    versions: dict[str, dict[str, str]]  # version -> registry tags
    champion: str  # set by `badbuzz promote --metric positive_recall`
    best_precision: str
    bow: str  # the one version trained with --vectorizer bow

    @property
    def tracking_uri(self) -> str:
        return f"sqlite:///{self.home / 'mlflow' / 'mlflow.db'}"


def check(cli: Cli, *args: str) -> None:
    result = cli(*args)
    if result.returncode != 0:
        pytest.fail(cli.explain(result))


@pytest.fixture(scope="session")
def embedded_store(sentiment140: Path, tmp_path_factory: pytest.TempPathFactory) -> EmbeddedStore:
    """nb + logreg on TF-IDF and logreg on binary bag-of-words, 2,000 tweets each; the
    champion moved by `promote`, then (where that is also the best by positive precision) to
    another version: the tests need the two apart."""
    home = tmp_path_factory.mktemp("embedded") / "home"
    cli = Cli(home, sentiment140)
    check(cli, "train", "baseline", "--models", "nb,logreg", "--sample", SAMPLE)
    check(cli, "train", "baseline", "--models", "logreg", "--vectorizer", "bow", "--sample", SAMPLE)
    check(cli, "promote", "--metric", "positive_recall")
    store = EmbeddedStore(home, {}, "", "", "")
    client = registry_client(store.tracking_uri)
    versions = version_tags(client)
    assert len(versions) == 3, versions
    best = best_by(versions)
    champion = champion_apart_from(client, best, versions)
    (bow,) = [v for v, tags in versions.items() if tags.get("embedding_type") == "bow"]
    return EmbeddedStore(home, versions, champion, best, bow)


def champion_apart_from(client: MlflowClient, best: str, versions: dict[str, Any]) -> str:
    """The champion alias, moved off `best` to the lowest other version if it was there."""
    champion = str(client.get_model_version_by_alias(MODEL, "champion").version)
    if champion == best:
        champion = min((v for v in versions if v != best), key=int)
        client.set_registered_model_alias(MODEL, "champion", champion)
    return champion


@pytest.fixture(scope="session")
def local_bundle(embedded_store: EmbeddedStore, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The best-by-precision version's bundle, downloaded by the training side."""
    from badbuzz.registry import download_bundle

    registry_client(embedded_store.tracking_uri)
    target = tmp_path_factory.mktemp("local-bundle")
    return download_bundle(f"models:/{MODEL}/{embedded_store.best_precision}", target)


@pytest.fixture(scope="session")
def api(local_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """The main API: serves `local_bundle` (no registry), an API key set, SQLite feedback."""
    root = tmp_path_factory.mktemp("api-main")
    server = start_api(
        root / "home",
        root,
        {"BADBUZZ_MODEL_BUNDLE": str(local_bundle), "BADBUZZ_API_KEY": API_KEY},
        name="api-main",
    )
    try:
        yield server
    finally:
        server.stop()
