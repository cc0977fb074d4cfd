"""Experiments per dataset version and the git context of a run."""

from __future__ import annotations

import subprocess
from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient

from badbuzz.registry import TrackingTarget


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
