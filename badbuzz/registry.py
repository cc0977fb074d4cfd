"""The MLflow store and its model registry, as training and serving both use them: where the
store is (a server, or the embedded SQLite store under BADBUZZ_HOME), ranking registered
versions by a metric tag, moving the champion alias, and fetching a version's bundle.

With no MLFLOW_TRACKING_URI, runs go to a SQLite store and a local artifact folder under
BADBUZZ_HOME; with one (a server, compose), the same code runs against it and artifacts go
wherever the server puts them. Needs `mlflow` (the `train` extra) or `mlflow-skinny` (`api`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from badbuzz.errors import RegistryError
from badbuzz.metric_names import current_name, floor_metric, tag_value
from badbuzz.settings import BadbuzzSettings

CHAMPION = "champion"
EMBEDDED_DB = "mlflow.db"
EMBEDDED_ARTIFACTS = "artifacts"


@dataclass(frozen=True)
class TrackingTarget:
    tracking_uri: str
    artifact_root: str | None  # set only for the embedded store
    embedded: bool

    def describe(self) -> str:
        if not self.embedded:
            return f"MLflow server {self.tracking_uri}"
        return (
            f"embedded MLflow store {self.tracking_uri} (artifacts in {self.artifact_root}); "
            f"browse it with: mlflow ui --backend-store-uri {self.tracking_uri}"
        )


@contextmanager
def mlflow_http(retries: int, timeout_s: float) -> Iterator[None]:
    """MLflow's HTTP retries and per-request timeout for the calls made inside (MLflow reads
    them from the environment at each request), the caller's values put back after: a caller
    that must not wait minutes on a dead server (the API's start, doctor) says so here, for
    its own calls only."""
    values = {
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": str(retries),
        "MLFLOW_HTTP_REQUEST_TIMEOUT": str(max(1, math.ceil(timeout_s))),
    }
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def configure_tracking(settings: BadbuzzSettings) -> TrackingTarget:
    """Point MLflow at the configured server, or at the embedded store (created on demand)."""
    if settings.mlflow_tracking_uri:
        target = TrackingTarget(settings.mlflow_tracking_uri, None, embedded=False)
    else:
        settings.mlflow_dir.mkdir(parents=True, exist_ok=True)
        artifacts = settings.mlflow_dir / EMBEDDED_ARTIFACTS
        target = TrackingTarget(
            f"sqlite:///{settings.mlflow_dir / EMBEDDED_DB}", artifacts.as_uri(), embedded=True
        )
    # Bundles are small: per-file progress bars would only drown the training progress.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mlflow.set_tracking_uri(target.tracking_uri)
    mlflow.set_registry_uri(target.tracking_uri)
    return target


@dataclass(frozen=True)
class Candidate:
    version: str
    score: float
    model_family: str
    embedding_type: str
    aliases: tuple[str, ...]
    run_id: str
    positive_recall: float | None  # the floor's metric
    threshold: float | None  # None: registered before thresholds were chosen (then 0.5)


def _all_versions(client: MlflowClient, name: str) -> list[ModelVersion]:
    versions: list[ModelVersion] = []
    token = None
    while True:
        page = client.search_model_versions(f"name='{name}'", page_token=token)
        versions.extend(page)
        token = page.token
        if not token:
            return versions


def rank_versions(
    client: MlflowClient,
    name: str,
    metric: str,
    embedding_type: str | None = None,
    min_positive_recall: float = 0.0,
) -> list[Candidate]:
    """Registered versions with a `metric` tag, best first (ties: newest first).

    `metric` may be an old name (`precision`: `negative_precision`), and versions registered
    before the names said their class are read through their old tags
    (`badbuzz.metric_names.LEGACY_TAGS`). `min_positive_recall` keeps out models that buy
    positive precision by calling almost nothing positive: on the held-out split, or on the
    client's tweets when `metric` is a `client_` one (`floor_metric`). A challenger that `badbuzz
    retrain`'s gate refused is never a candidate.
    """
    metric = current_name(metric)
    candidates = []
    for mv in _all_versions(client, name):
        tags = mv.tags or {}
        if embedding_type and tags.get("embedding_type") != embedding_type:
            continue
        if tags.get("gate_decision") == "refused":
            continue
        score = tag_value(tags, metric)
        recall = tag_value(tags, floor_metric(metric))
        if score is None or (
            min_positive_recall > 0 and (recall is None or recall < min_positive_recall)
        ):
            continue
        candidates.append(
            Candidate(
                version=str(mv.version),
                score=score,
                model_family=tags.get("model_family", "?"),
                embedding_type=tags.get("embedding_type", "?"),
                aliases=tuple(getattr(mv, "aliases", ()) or ()),
                run_id=mv.run_id or "",
                positive_recall=recall,
                threshold=tag_value(tags, "threshold"),
            )
        )
    return sorted(candidates, key=lambda c: (c.score, int(c.version)), reverse=True)


def best_version(
    client: MlflowClient,
    name: str,
    metric: str,
    embedding_type: str | None = None,
    min_positive_recall: float = 0.0,
) -> Candidate:
    ranked = rank_versions(client, name, metric, embedding_type, min_positive_recall)
    if not ranked:
        scope = f" with embedding_type={embedding_type}" if embedding_type else ""
        floor = (
            f" and {floor_metric(metric)} >= {min_positive_recall}"
            if min_positive_recall > 0
            else ""
        )
        raise RegistryError(
            f"no version of {name!r}{scope} has a {current_name(metric)!r} tag{floor}: train "
            "one with `badbuzz train baseline`, or relax the filters (versions registered "
            "before the metric names said their class carry only negative_*, accuracy, "
            "roc_auc and buzz_score tags: rank them by one of those, with a floor of 0)"
        )
    return ranked[0]


def set_alias(client: MlflowClient, name: str, version: str, alias: str = CHAMPION) -> None:
    client.set_registered_model_alias(name, alias, version)


def download_bundle(model_uri: str, destination: Path) -> Path:
    """Download a logged/registered model (`models:/name@alias`, `runs:/...`) and return
    its bundle directory."""
    try:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=model_uri, dst_path=str(destination)
        )
    except MlflowException as error:
        raise RegistryError(f"cannot fetch {model_uri}: {error.message}") from error
    bundle = Path(local) / "artifacts" / "bundle"
    if not bundle.is_dir():
        raise RegistryError(f"{model_uri} holds no badbuzz bundle (no artifacts/bundle)")
    return bundle
