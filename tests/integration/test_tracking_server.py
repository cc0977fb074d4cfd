"""The CLI against a real tracking stack: `mlflow server` on PostgreSQL with artifacts proxied
to an S3 endpoint. The client side holds only MLFLOW_TRACKING_URI, never S3 keys.

The module trains once (nb + logreg on a 3,000-tweet sample) and checks, in order: the
artifacts in the bucket, the registry tags, promotion (dry run first), loading the champion
as a pyfunc in this process, and `badbuzz evaluate` on it.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pytest

from badbuzz.metric_names import DEFAULT_FLOOR, FLOOR_METRIC, KPI, MANUAL_PREFIX, SELECTABLE_METRICS

from .support import Cli, TrackingServer

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion
    from mlflow.tracking import MlflowClient

pytestmark = pytest.mark.integration

MODEL = "tweet-sentiment"
FAMILIES = {"naive_bayes", "logistic_regression"}


@dataclass(frozen=True)
class Promotion:
    dry_run: subprocess.CompletedProcess[str]
    aliases_after_dry_run: dict[str, str]
    promote: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def cli(
    tracking_server: TrackingServer, sentiment140: Path, tmp_path_factory: pytest.TempPathFactory
) -> Cli:
    home = tmp_path_factory.mktemp("server-client") / "home"
    return Cli(home, sentiment140, tracking_server.uri, tracking_server)


@pytest.fixture(scope="module")
def registry(tracking_server: TrackingServer) -> MlflowClient:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=tracking_server.uri, registry_uri=tracking_server.uri)


@pytest.fixture(scope="module")
def trained(cli: Cli) -> subprocess.CompletedProcess[str]:
    result = cli("train", "baseline", "--models", "nb,logreg", "--sample", "3000")
    if result.returncode != 0:
        pytest.fail(cli.explain(result))
    return result


@pytest.fixture(scope="module")
def promotion(
    trained: subprocess.CompletedProcess[str], cli: Cli, registry: MlflowClient
) -> Promotion:
    dry_run = cli("promote", "--dry-run")
    aliases = dict(registry.get_registered_model(MODEL).aliases)
    return Promotion(dry_run, aliases, cli("promote"))


def versions(registry: MlflowClient) -> list[ModelVersion]:
    return list(registry.search_model_versions(f"name='{MODEL}'"))


def unit_float(value: str | None) -> float:
    """A tag that must hold a float in [0, 1]."""
    assert value is not None
    number = float(value)
    assert 0.0 <= number <= 1.0, value
    return number


def test_train_logs_to_the_server(trained: subprocess.CompletedProcess[str], cli: Cli) -> None:
    assert f"MLflow server {cli.tracking_uri}" in " ".join(trained.stdout.split())
    assert not (cli.home / "mlflow").exists(), "the embedded store was used despite the server"


def test_bundles_are_stored_in_the_bucket(
    trained: subprocess.CompletedProcess[str], tracking_server: TrackingServer
) -> None:
    keys = tracking_server.s3.keys()
    for name in ("manifest.json", "model.joblib"):
        found = [key for key in keys if key.endswith(f"artifacts/bundle/{name}")]
        assert len(found) == 2, f"{name}: {found} among {keys}"


def test_each_version_is_tagged_with_family_embedding_and_metrics(
    trained: subprocess.CompletedProcess[str], registry: MlflowClient
) -> None:
    registered = versions(registry)
    assert len(registered) == 2
    assert {mv.tags.get("model_family") for mv in registered} == FAMILIES
    for mv in registered:
        assert mv.tags.get("embedding_type") == "tfidf", mv.tags
        for metric in SELECTABLE_METRICS:
            unit_float(mv.tags.get(metric))
            unit_float(mv.tags.get(MANUAL_PREFIX + metric))
        assert 0.0 < unit_float(mv.tags.get("threshold")) < 1.0
        assert not {"precision", "recall", "f1"} & set(mv.tags), "names that hide their class"


def test_promote_dry_run_moves_no_alias(promotion: Promotion, cli: Cli) -> None:
    assert promotion.dry_run.returncode == 0, cli.explain(promotion.dry_run)
    assert "Dry run" in promotion.dry_run.stdout
    assert promotion.aliases_after_dry_run == {}


def test_promote_points_champion_at_the_best_kpi_above_the_floor(
    promotion: Promotion, cli: Cli, registry: MlflowClient
) -> None:
    """The default ranking reads the very tags training wrote: positive precision among the
    versions whose positive recall keeps the floor."""
    assert promotion.promote.returncode == 0, cli.explain(promotion.promote)
    eligible = [mv for mv in versions(registry) if float(mv.tags[FLOOR_METRIC]) >= DEFAULT_FLOOR]
    assert eligible, "no version keeps the floor: the default promotion would fail"
    best = max(eligible, key=lambda mv: (float(mv.tags[KPI]), int(mv.version)))
    champion = registry.get_model_version_by_alias(MODEL, "champion")
    assert champion.version == best.version
    assert f"{KPI}={float(best.tags[KPI]):.4f}" in promotion.promote.stdout


@pytest.fixture
def in_process_tracking(
    tracking_server: TrackingServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """This process as a plain client: the tracking URI set, no S3 endpoint or keys."""
    import mlflow

    for key in list(os.environ):
        if key.startswith(("AWS_", "MLFLOW_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_server.uri)
    mlflow.set_tracking_uri(tracking_server.uri)
    mlflow.set_registry_uri(tracking_server.uri)  # other tests may have left theirs set
    yield tracking_server.uri
    mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
    mlflow.set_registry_uri(None)  # type: ignore[arg-type]


def test_champion_loads_as_pyfunc_without_s3_credentials(
    promotion: Promotion, in_process_tracking: str
) -> None:
    import mlflow.pyfunc

    assert promotion.promote.returncode == 0
    model = mlflow.pyfunc.load_model(f"models:/{MODEL}@champion")
    tweets = ["worst airline ever, they lost my bag", "thank you for the upgrade, amazing crew"]
    predictions = model.predict(pd.DataFrame({"text": tweets}))
    assert isinstance(predictions, pd.DataFrame)
    assert list(predictions.columns) == ["label", "probability_positive"]
    assert len(predictions) == 2
    assert set(predictions["label"]) <= {"negative", "positive"}
    assert all(0.0 <= p <= 1.0 for p in predictions["probability_positive"])


def test_evaluate_champion_prints_metrics_and_writes_a_report(
    promotion: Promotion, cli: Cli, registry: MlflowClient
) -> None:
    assert promotion.promote.returncode == 0
    uri = f"models:/{MODEL}@champion"
    result = cli("evaluate", "--model-uri", uri)
    assert result.returncode == 0, cli.explain(result)
    assert "accuracy" in result.stdout
    reports = sorted((cli.home / "reports").glob("*.json"))
    assert len(reports) == 1, reports
    report = json.loads(reports[0].read_text())
    assert report["model_uri"] == uri
    accuracy = report["metrics"]["accuracy"]
    assert 0.0 <= accuracy <= 1.0 and not math.isnan(accuracy)
    # the bundle carries the threshold chosen in training; figures at it and at 0.5
    champion = registry.get_model_version_by_alias(MODEL, "champion")
    assert report["threshold"] == pytest.approx(float(champion.tags["threshold"]))
    metrics = report["metrics"]
    assert metrics[KPI] == pytest.approx(float(champion.tags[MANUAL_PREFIX + KPI]))
    assert 0.0 <= metrics[f"{KPI}_at_0.5"] <= 1.0
