"""MLflow wiring: the embedded default store, experiments per dataset version, git context.

With no MLFLOW_TRACKING_URI, runs go to a SQLite store and a local artifact
folder under BADBUZZ_HOME; with one (a server, compose), the same code runs
against it and artifacts go wherever the server puts them.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient

from training.settings import TrainingSettings

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


def configure_tracking(settings: TrainingSettings) -> TrackingTarget:
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


def use_experiment(name: str, target: TrackingTarget) -> str:
    """Get or create the experiment; embedded ones keep artifacts under BADBUZZ_HOME."""
    client = MlflowClient()
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        experiment_id: str = experiment.experiment_id
    else:
        artifact_location = f"{target.artifact_root}/{name}" if target.artifact_root else None
        experiment_id = client.create_experiment(name, artifact_location=artifact_location)
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def experiment_name(data_hash: str) -> str:
    """One experiment per dataset version."""
    return f"sentiment140-{data_hash[:12]}"


def git_commit(cwd: Path | None = None) -> str:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return result.stdout.strip()
