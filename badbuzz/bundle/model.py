"""A loaded bundle: raw tweets in, probability of *positive* and a label out.

Loading checks the manifest's signature (when the loading machine asks for one), its paths
and its hashes, and only then imports the module of the runtime the manifest names
(`badbuzz.bundle.runtimes`); nothing of training, and never TensorFlow in this process.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from badbuzz.bundle.manifest import DEFAULT_LABELS, Manifest
from badbuzz.bundle.signing import SignaturePolicy, verified_manifest
from badbuzz.errors import BundleError
from badbuzz.text import NormalizationConfig, missing_packages, normalize_many

NEUTRAL = "neutral"  # the label of a score inside the bundle's neutral band
# manifest "runtime" -> the module that loads it (imported only when a bundle needs it)
RUNTIME_MODULES = {
    "sklearn": "badbuzz.bundle.runtimes.sklearn_pipeline",
    "tflite": "badbuzz.bundle.runtimes.tflite",
    "keras": "badbuzz.bundle.runtimes.keras",
    "onnx": "badbuzz.bundle.runtimes.onnx",
    "mean": "badbuzz.bundle.runtimes.mean",
}


@dataclass(frozen=True)
class Decision:
    """Score to label, decided here and nowhere else: positive when P(positive) >= threshold,
    and, where the bundle has a neutral band, neutral when low <= P(positive) < high. The
    binary call (`is_positive`) ignores the band: the KPI figures stay comparable."""

    threshold: float = 0.5
    labels: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_LABELS))
    neutral_band: tuple[float, float] | None = None

    def is_positive(self, p_positive: np.ndarray) -> np.ndarray:
        return np.asarray(p_positive) >= self.threshold

    def label(self, p_positive: float) -> str:
        return self.label_all(np.array([p_positive]))[0]

    def label_all(self, p_positive: np.ndarray) -> list[str]:
        scores = np.asarray(p_positive)
        names = [self.labels[str(int(positive))] for positive in self.is_positive(scores)]
        if self.neutral_band is None:
            return names
        low, high = self.neutral_band
        neutral = (scores >= low) & (scores < high)
        return [NEUTRAL if inside else name for name, inside in zip(names, neutral, strict=True)]


@dataclass(frozen=True)
class RuntimeOptions:
    """What the machine that loads a bundle decides, not the bundle: where converted models
    are cached, how many threads an ONNX session may use (None: the manifest's), and what it
    asks of the bundle's signature (None: nothing, as training loading its own bundles)."""

    cache_dir: Path | None = None
    onnx_threads: int | None = None
    signatures: SignaturePolicy | None = None


class Scorer(Protocol):
    """A loaded model: normalised texts in, probability of positive out."""

    runtime: str  # what actually runs it, e.g. "sklearn", "ai_edge_litert", "onnxruntime"

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray: ...


def load_scorer(directory: Path, manifest: Manifest, options: RuntimeOptions) -> Scorer:
    module_name = RUNTIME_MODULES.get(manifest.runtime)
    if module_name is None:
        raise BundleError(
            f"{directory}: runtime {manifest.runtime!r} is not one of {sorted(RUNTIME_MODULES)}"
        )
    try:
        scorer: Scorer = importlib.import_module(module_name).load(directory, manifest, options)
    except ModuleNotFoundError as error:  # e.g. a scikit-learn bundle on the TFLite-only image
        raise BundleError(
            f"{directory}: its {manifest.runtime!r} runtime needs the {error.name!r} package, "
            "which is not installed here: install badbuzz[api] (every bundle kind), or serve "
            "a bundle this install runs"
        ) from error
    return scorer


class ModelBundle:
    """A loaded bundle: raw tweets in, probability of *positive* out."""

    def __init__(self, directory: Path, manifest: Manifest, scorer: Scorer) -> None:
        self.directory = directory
        self.manifest = manifest
        self.normalization = (
            None
            if manifest.normalization is None
            else NormalizationConfig.from_dict(manifest.normalization)
        )
        missing = [] if self.normalization is None else missing_packages(self.normalization)
        if missing:
            raise BundleError(
                f"{directory}: its normalisation needs {', '.join(missing)}, which is not "
                f"installed here: pip install {' '.join(missing)}"
            )
        band = manifest.neutral_band
        self.decision = Decision(
            manifest.threshold, manifest.labels, None if band is None else (band[0], band[1])
        )
        self.scorer = scorer

    @classmethod
    def load(cls, directory: Path, options: RuntimeOptions | None = None) -> ModelBundle:
        options = options or RuntimeOptions()
        manifest = verified_manifest(directory, options.signatures)
        return cls(directory, manifest, load_scorer(directory, manifest, options))

    @property
    def threshold(self) -> float:
        return self.decision.threshold

    @property
    def metadata(self) -> dict[str, Any]:
        return self.manifest.metadata

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probability that each tweet is positive, in input order."""
        if self.normalization is not None:
            texts = normalize_many(texts, self.normalization)
        return np.asarray(self.scorer.predict_proba(texts), dtype=float)

    def predict(self, texts: Sequence[str]) -> list[str]:
        return self.decision.label_all(self.predict_proba(texts))
