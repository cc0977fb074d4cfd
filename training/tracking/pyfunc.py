"""The bundle as an MLflow pyfunc model, so `mlflow models serve` and `spark_udf` run it too."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.pyfunc import PythonModel

from badbuzz.bundle.model import ModelBundle
from badbuzz.settings import BadbuzzSettings


class BundlePythonModel(PythonModel):  # type: ignore[misc]
    """Scores a DataFrame with a `text` column; returns label and probability of positive."""

    def load_context(self, context: Any) -> None:
        # the pyfunc's entry point: the loading machine's settings say where conversions go
        self.bundle = ModelBundle.load(
            Path(context.artifacts["bundle"]), BadbuzzSettings().runtime_options()
        )

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        texts = [str(text) for text in model_input["text"]]
        classified = self.bundle.classify(texts)
        return pd.DataFrame(
            {"label": classified.labels, "probability_positive": classified.p_positive}
        )


# What loading each runtime's bundle needs besides numpy and pandas.
RUNTIME_PACKAGES = {
    "sklearn": ["scikit-learn", "joblib", "lightgbm", "xgboost-cpu", "vaderSentiment", "textblob"],
    "tflite": ["ai-edge-litert"],
    "onnx": ["onnxruntime", "tokenizers"],
}
# an ensemble (the `mean` runtime) of the families training builds: ONNX and scikit-learn
RUNTIME_PACKAGES["mean"] = RUNTIME_PACKAGES["onnx"] + RUNTIME_PACKAGES["sklearn"]


def pip_requirements(runtime: str, neutral_head: bool = False) -> list[str]:
    """What loading the pyfunc needs (with a neutral head: a `mean` bundle too), pinned to
    what trained it (MLflow's inference of requirements would load the model once more in a
    subprocess)."""
    packages = ["numpy", "pandas", "emoji", "snowballstemmer", "simplemma", "pydantic-settings"]
    runtimes = RUNTIME_PACKAGES[runtime] + (RUNTIME_PACKAGES["mean"] if neutral_head else [])
    return [f"{name}=={version(name)}" for name in dict.fromkeys(packages + runtimes)]
