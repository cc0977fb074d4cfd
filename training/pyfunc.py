"""The bundle as an MLflow pyfunc model, so `mlflow models serve` and `spark_udf` run it too."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd

from training.bundle import ModelBundle


class BundlePythonModel(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
    """Scores a DataFrame with a `text` column; returns label and probability of positive."""

    def load_context(self, context: Any) -> None:
        self.bundle = ModelBundle.load(Path(context.artifacts["bundle"]))

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        texts = [str(text) for text in model_input["text"]]
        p_positive = self.bundle.predict_proba(texts)
        labels = self.bundle.manifest.labels
        threshold = self.bundle.threshold
        return pd.DataFrame(
            {
                "label": [labels[str(int(p >= threshold))] for p in p_positive],
                "probability_positive": p_positive,
            }
        )


def pip_requirements() -> list[str]:
    """What loading the pyfunc needs, pinned to what trained it (no slow inference)."""
    packages = [
        "scikit-learn",
        "numpy",
        "pandas",
        "emoji",
        "snowballstemmer",
        "simplemma",
        "joblib",
        "lightgbm",
        "xgboost-cpu",
        "vaderSentiment",
        "textblob",
    ]
    return [f"{name}=={version(name)}" for name in packages]
