"""`--recipe ensemble`: the mean P(positive) of the `encoder` recipe (frozen MiniLM + logistic
head) and the `tfidf_logreg` recipe (TF-IDF + VADER + logistic regression), each refitted on
Sentiment140 plus the weighted feedback, whatever the champion's family.

The two err differently (one reads meaning, the other words and VADER's lexicon): on real
airline tweets their mean is better than either, out of the box, after verdicts, and on the
manual set (README "Retraining from feedback"). Shipped as a `mean` bundle
(`badbuzz.bundle.runtimes.mean`): both members' bundles in subfolders, each normalising the
raw tweet its own way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from badbuzz.bundle.manifest import Manifest
from badbuzz.bundle.runtimes.mean import MEMBERS_FOLDER, write_members_file
from badbuzz.metric_names import DEFAULT_THRESHOLD
from training.encoder.head import EncoderConfig
from training.feedback.encoder_recipe import EncoderRecipe
from training.feedback.fitting import ChallengerRecipe, Features, FittingData
from training.feedback.recipe import tfidf_logreg_recipe

MODEL_FAMILY = "ensemble"


@dataclass
class EnsembleRecipe(ChallengerRecipe):
    members: tuple[ChallengerRecipe, ...]
    weight: float

    @property
    def name(self) -> str:
        return "ensemble"

    @property
    def model_family(self) -> str:
        return MODEL_FAMILY

    @property
    def embedding_type(self) -> str:
        return "+".join(member.embedding_type for member in self.members)

    @property
    def default_weight(self) -> float:
        return self.weight

    @property
    def onnx_threads(self) -> int | None:
        threads = [m.onnx_threads for m in self.members if m.onnx_threads is not None]
        return max(threads) if threads else None

    def features(self, texts: Sequence[str], progress: str | None = None) -> np.ndarray:
        """One object per tweet: the tuple of the members' feature rows."""
        per_member = [member.features(texts, progress) for member in self.members]
        rows = np.empty(len(texts), dtype=object)
        for i in range(len(texts)):
            rows[i] = tuple(member_rows[i] for member_rows in per_member)
        return rows

    def fit(self, features: Features, feedback_rows: np.ndarray | None = None) -> Any:
        return [
            member.fit(self._member_features(features, k), feedback_rows)
            for k, member in enumerate(self.members)
        ]

    def score(self, fitted: Any, rows: np.ndarray) -> np.ndarray:
        if not len(rows):
            return np.zeros(0)
        return np.mean(
            [member.score(fitted[k], _column(rows, k)) for k, member in enumerate(self.members)],
            axis=0,
        )

    def write_bundle(
        self,
        fitted: Any,
        directory: Path,
        parity_texts: Sequence[str],
        parity_labels: np.ndarray,
    ) -> Path:
        folders = []
        for k, member in enumerate(self.members):
            folder = f"{MEMBERS_FOLDER}/{member.name}"
            member.write_bundle(fitted[k], directory / folder, parity_texts, parity_labels)
            folders.append(folder)
        Manifest(
            runtime="mean",
            model_file=write_members_file(directory, folders),
            normalization=None,
            threshold=DEFAULT_THRESHOLD,
        ).write(directory)
        return directory

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"recipe": self.name}
        for member in self.members:
            params.update({f"{member.name}_{k}": v for k, v in member.params().items()})
        return params

    def prepare(self, data: FittingData, progress: str | None = None) -> Features:
        """The tuples of every member's rows, and each member's own rows stacked once (a
        retrain fits the members four times: three threshold folds and the challenger)."""
        features = super().prepare(data, progress)
        members = tuple(self._member_features(features, k) for k in range(len(self.members)))
        return EnsembleFeatures(
            features.base,
            features.base_labels,
            features.feedback,
            features.feedback_labels,
            features.feedback_weight,
            members,
        )

    def _member_features(self, features: Features, k: int) -> Features:
        if isinstance(features, EnsembleFeatures):
            return features.members[k]
        base = _column(features.base, k)
        feedback = _column(features.feedback, k) if len(features.feedback) else base[:0]
        return Features(
            base, features.base_labels, feedback, features.feedback_labels, features.feedback_weight
        )


@dataclass(frozen=True)
class EnsembleFeatures(Features):
    members: tuple[Features, ...] = ()  # member k's own feature rows, stacked


def ensemble_recipe(embeddings_dir: Path, encoder: EncoderConfig, weight: float) -> EnsembleRecipe:
    """The ensemble as retrain, `train ensemble` and the bench build it: the encoder head
    (embeddings cached under `embeddings_dir`) and TF-IDF + VADER + logistic regression."""
    members = (
        EncoderRecipe(embeddings_dir, encoder, weight),
        tfidf_logreg_recipe(encoder.seed, weight),
    )
    return EnsembleRecipe(members, weight)


def _column(rows: np.ndarray, k: int) -> np.ndarray:
    """Member k's feature rows (an embedding matrix, or an array of normalised texts)."""
    items = [row[k] for row in rows]
    if isinstance(items[0], np.ndarray):
        return np.stack(items)
    column = np.empty(len(items), dtype=object)
    column[:] = items
    return column
