"""Bundles holding a joblib-pickled scikit-learn pipeline over normalised text."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from badbuzz.bundle.manifest import Manifest
from badbuzz.bundle.model import RuntimeOptions

MODEL_FILE = "model.joblib"


class SklearnScorer:
    runtime = "sklearn"

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self.pipeline.predict_proba(list(texts))[:, 1])


def load(directory: Path, manifest: Manifest, options: RuntimeOptions) -> SklearnScorer:
    import joblib  # the manifest hashes were verified before this unpickles

    return SklearnScorer(joblib.load(directory / manifest.model_file))
