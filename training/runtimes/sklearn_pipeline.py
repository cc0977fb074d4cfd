"""Bundles holding a joblib-pickled scikit-learn pipeline over normalised text."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from training.bundle import Manifest
from training.text import NormalizationConfig

MODEL_FILE = "model.joblib"


class SklearnScorer:
    runtime = "sklearn"

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self.pipeline.predict_proba(list(texts))[:, 1])


def load(directory: Path, manifest: Manifest) -> SklearnScorer:
    import joblib  # the manifest hashes were verified before this unpickles

    return SklearnScorer(joblib.load(directory / manifest.model_file))


def write_bundle(
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
