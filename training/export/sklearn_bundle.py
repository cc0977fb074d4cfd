"""Write a bundle for a fitted scikit-learn pipeline over normalised text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from badbuzz.bundle.manifest import Manifest
from badbuzz.bundle.runtimes.sklearn_pipeline import MODEL_FILE
from badbuzz.text import NormalizationConfig


def write_sklearn_bundle(
    directory: Path,
    pipeline: Any,
    normalization: NormalizationConfig,
    threshold: float,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write a bundle for a fitted pipeline that scores normalised text."""
    import joblib

    directory.mkdir(parents=True, exist_ok=True)
    joblib.dump(pipeline, directory / MODEL_FILE, compress=3)
    Manifest(
        runtime="sklearn",
        model_file=MODEL_FILE,
        normalization=normalization.to_dict(),
        threshold=threshold,
        metadata=metadata or {},
    ).write(directory)
    return directory
