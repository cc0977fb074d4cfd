"""Shared fixtures: where the real Sentiment140 files are (../shared/data beside the repo)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.processes import unavailable
from tests.shared_data import REPO, shared_sentiment140


@pytest.fixture(scope="session")
def sentiment140_dir() -> Path:
    folder = shared_sentiment140()
    if not (folder / "sample_train.csv.gz").is_file():
        unavailable(f"shared Sentiment140 data not found in {folder}")
    return folder


# What MLflow creates in the working directory when a call reaches its default store.
DEFAULT_STORES = ("mlflow.db", "mlruns", "mlartifacts")


@pytest.fixture(scope="session", autouse=True)
def _no_default_store_in_the_checkout() -> Iterator[None]:
    """Every test names its store: none may leave MLflow's default one in the checkout."""
    before = {name for name in DEFAULT_STORES if (REPO / name).exists()}
    yield
    left = sorted(name for name in DEFAULT_STORES if (REPO / name).exists())
    assert set(left) <= before, f"a test used MLflow's default store: {left} in {REPO}"


@pytest.fixture(autouse=True)
def _no_mlflow_uri_leaks() -> Iterator[None]:
    """MLflow keeps its tracking and registry URIs in process globals: reset them after each
    test that imported it, so no test reads another's store."""
    yield
    if "mlflow" in sys.modules:
        import mlflow

        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
        mlflow.set_registry_uri(None)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory, sentiment140_dir: Path) -> Path:
    """A real scikit-learn bundle fitted on a few manual-set tweets (`tests.bundles`)."""
    from tests.bundles import write_tiny_sklearn_bundle

    return write_tiny_sklearn_bundle(tmp_path_factory.mktemp("tiny") / "bundle")


@dataclass(frozen=True)
class BundleKeys:
    """A key pair as `badbuzz keys create` writes it: training's private key, the API's public."""

    signing: Path
    verify: Path


@pytest.fixture(scope="session")
def bundle_keys(tmp_path_factory: pytest.TempPathFactory) -> BundleKeys:
    """An Ed25519 key pair made for this test session: no private key is ever committed."""
    from badbuzz.bundle.signing import create_key_pair

    return BundleKeys(*create_key_pair(tmp_path_factory.mktemp("keys")))
