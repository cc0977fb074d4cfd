"""The model bundle: the contract between training and serving.

A directory holding the model in its serving format plus `manifest.json`
(format version, runtime, file hashes, normalisation settings, threshold,
label map, metadata). Reading one needs no training code beyond `training.text`
and the runtime's module in `training.runtimes`, and never TensorFlow. The file
hashes in the manifest are checked before anything is loaded.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from training.text import NormalizationConfig, normalize_many

BUNDLE_FORMAT = "badbuzz-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DEFAULT_LABELS = {"0": "negative", "1": "positive"}
# manifest "runtime" -> the module that loads it (imported only when a bundle needs it)
RUNTIME_MODULES = {
    "sklearn": "training.runtimes.sklearn_pipeline",
    "tflite": "training.runtimes.tflite",
    "keras": "training.runtimes.keras_bundle",
    "onnx": "training.runtimes.onnx",
}


class BundleError(ValueError):
    """A bundle is missing, incomplete, tampered with or of an unknown format."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class Manifest:
    runtime: str
    model_file: str
    normalization: dict[str, Any]
    threshold: float = 0.5
    labels: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_LABELS))
    metadata: dict[str, Any] = field(default_factory=dict)
    # what the runtime needs beyond the model file: max length, vocabulary file, ...
    runtime_options: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # name -> sha256
    format: str = BUNDLE_FORMAT
    format_version: int = FORMAT_VERSION

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        path = directory / MANIFEST
        if not path.is_file():
            raise BundleError(f"{directory}: not a model bundle (no {MANIFEST})")
        try:
            values = json.loads(path.read_text())
            manifest = cls(**values)
        except (json.JSONDecodeError, TypeError) as error:
            raise BundleError(f"{path}: unreadable manifest ({error})") from error
        if manifest.format != BUNDLE_FORMAT or manifest.format_version > FORMAT_VERSION:
            raise BundleError(
                f"{path}: {manifest.format} v{manifest.format_version} is not a bundle this "
                f"version reads ({BUNDLE_FORMAT} up to v{FORMAT_VERSION}); upgrade badbuzz"
            )
        return manifest

    def write(self, directory: Path) -> None:
        self.files = {
            p.name: sha256_file(p)
            for p in sorted(directory.iterdir())
            if p.is_file() and p.name != MANIFEST
        }
        (directory / MANIFEST).write_text(json.dumps(self.__dict__, indent=2, sort_keys=True))

    def verify(self, directory: Path) -> None:
        if self.model_file not in self.files:
            raise BundleError(f"{directory}: manifest lists no hash for {self.model_file}")
        for name, expected in self.files.items():
            path = directory / name
            if not path.is_file():
                raise BundleError(f"{directory}: {name} is missing")
            if sha256_file(path) != expected:
                raise BundleError(f"{directory}: {name} does not match its manifest hash")


class Scorer(Protocol):
    """A loaded model: normalised texts in, probability of positive out."""

    runtime: str  # what actually runs it, e.g. "sklearn", "ai_edge_litert", "onnxruntime"

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray: ...


def load_scorer(directory: Path, manifest: Manifest) -> Scorer:
    module_name = RUNTIME_MODULES.get(manifest.runtime)
    if module_name is None:
        raise BundleError(
            f"{directory}: runtime {manifest.runtime!r} is not one of {sorted(RUNTIME_MODULES)}"
        )
    scorer: Scorer = importlib.import_module(module_name).load(directory, manifest)
    return scorer


class ModelBundle:
    """A loaded bundle: raw tweets in, probability of *positive* out."""

    def __init__(self, directory: Path, manifest: Manifest, scorer: Scorer) -> None:
        self.directory = directory
        self.manifest = manifest
        self.normalization = NormalizationConfig.from_dict(manifest.normalization)
        self.scorer = scorer

    @classmethod
    def load(cls, directory: Path) -> ModelBundle:
        manifest = Manifest.read(directory)
        manifest.verify(directory)
        return cls(directory, manifest, load_scorer(directory, manifest))

    @property
    def threshold(self) -> float:
        return self.manifest.threshold

    @property
    def metadata(self) -> dict[str, Any]:
        return self.manifest.metadata

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probability that each tweet is positive, in input order."""
        normalized = normalize_many(texts, self.normalization)
        return np.asarray(self.scorer.predict_proba(normalized), dtype=float)

    def predict(self, texts: Sequence[str]) -> list[str]:
        p_positive = self.predict_proba(texts)
        return [self.manifest.labels[str(int(p >= self.threshold))] for p in p_positive]


def pack(directory: Path, archive: Path) -> Path:
    """Export a bundle directory as a .tar.gz an image can carry."""
    Manifest.read(directory).verify(directory)
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(directory.iterdir()):
            tar.add(path, arcname=path.name)
    return archive


def unpack(archive: Path, directory: Path) -> Path:
    """Extract a bundle archive (safely: no absolute paths or links) and verify it."""
    directory.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(directory, filter="data")
    Manifest.read(directory).verify(directory)
    return directory
