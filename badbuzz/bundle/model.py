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
from typing import Any, NamedTuple, Protocol

import numpy as np

from badbuzz.bundle.manifest import DEFAULT_LABELS, Manifest, inside_bundle
from badbuzz.bundle.signing import SignaturePolicy, verified_manifest
from badbuzz.errors import BundleError
from badbuzz.text import NormalizationConfig, missing_packages, normalize_many

NEUTRAL = "neutral"  # the label of a tweet the neutral head or the neutral band calls neutral
NEUTRAL_HEAD_LABELS = {"0": "polar", "1": NEUTRAL}  # a neutral head's classes
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
    """Score to label, decided here and nowhere else: positive when P(positive) >= threshold;
    neutral where the bundle's neutral head says so (`neutral`), or, without a head, where the
    bundle has a neutral band and low <= P(positive) < high. The binary call (`is_positive`)
    ignores both: the KPI figures stay comparable."""

    threshold: float = 0.5
    labels: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_LABELS))
    neutral_band: tuple[float, float] | None = None

    def is_positive(self, p_positive: np.ndarray) -> np.ndarray:
        return np.asarray(p_positive) >= self.threshold

    def label(self, p_positive: float) -> str:
        return self.label_all(np.array([p_positive]))[0]

    def label_all(self, p_positive: np.ndarray, neutral: np.ndarray | None = None) -> list[str]:
        scores = np.asarray(p_positive)
        names = [self.labels[str(int(positive))] for positive in self.is_positive(scores)]
        if neutral is None:
            if self.neutral_band is None:
                return names
            low, high = self.neutral_band
            neutral = (scores >= low) & (scores < high)
        return [NEUTRAL if inside else name for name, inside in zip(names, neutral, strict=True)]


class Scored(NamedTuple):
    """One tweet as the served model answers it."""

    p_positive: float
    label: str


@dataclass(frozen=True)
class Classified:
    """Tweets as the served model answers them: P(positive) and the label, in input order."""

    p_positive: np.ndarray
    labels: list[str]

    def each(self) -> list[Scored]:
        return [
            Scored(float(p), label) for p, label in zip(self.p_positive, self.labels, strict=True)
        ]


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
    """A loaded bundle: raw tweets in, probability of *positive* out; with its neutral head
    (a bundle in a subfolder, `Manifest.neutral_head`), which tweets are neutral."""

    def __init__(
        self,
        directory: Path,
        manifest: Manifest,
        scorer: Scorer,
        neutral_head: ModelBundle | None = None,
    ) -> None:
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
        self.neutral_head = neutral_head

    @classmethod
    def load(cls, directory: Path, options: RuntimeOptions | None = None) -> ModelBundle:
        options = options or RuntimeOptions()
        manifest = verified_manifest(directory, options.signatures)
        head = (
            None
            if manifest.neutral_head is None
            else load_neutral_head(directory, manifest, options)
        )
        return cls(directory, manifest, load_scorer(directory, manifest, options), head)

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

    def is_neutral(self, texts: Sequence[str]) -> np.ndarray | None:
        """Which tweets the neutral head calls neutral; None without a head."""
        if self.neutral_head is None:
            return None
        head = self.neutral_head
        return head.decision.is_positive(head.predict_proba(texts))

    def classify(self, texts: Sequence[str]) -> Classified:
        p_positive = self.predict_proba(texts)
        return Classified(p_positive, self.decision.label_all(p_positive, self.is_neutral(texts)))

    def predict(self, texts: Sequence[str]) -> list[str]:
        return self.classify(texts).labels


def load_neutral_head(directory: Path, manifest: Manifest, options: RuntimeOptions) -> ModelBundle:
    """The bundle's neutral head, its hashes checked (the bundle's own manifest, checked and
    signed, hashes the head's files too); a head of a head is refused."""
    folder = inside_bundle(directory, manifest.neutral_head)
    head = Manifest.read(folder)
    if head.neutral_head is not None:
        raise BundleError(f"{folder}: a neutral head has a neutral head of its own")
    head.verify(folder)
    return ModelBundle(folder, head, load_scorer(folder, head, options))
