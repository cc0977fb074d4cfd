"""What every challenger recipe does with the data of a retrain: turn tweets into its own
features once (normalised texts, or a frozen encoder's embeddings), fit on Sentiment140 plus
the weighted feedback (all of it, or some folds of it), and score feature rows. `badbuzz
retrain` and `bench.client_domain` drive recipes through this interface only."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

THRESHOLD_MIN_ROWS = 100
THRESHOLD_MIN_PER_CLASS = 20
THRESHOLD_FOLDS = 3


@dataclass(frozen=True)
class FittingData:
    """Raw tweets and labels: Sentiment140's training split, and the feedback's training
    part with its weight."""

    base_texts: Sequence[str]
    base_labels: np.ndarray
    feedback_texts: Sequence[str]
    feedback_labels: np.ndarray
    feedback_weight: float


@dataclass(frozen=True)
class Features:
    """A recipe's feature rows (one per tweet) of the base and the feedback, and the labels."""

    base: np.ndarray
    base_labels: np.ndarray
    feedback: np.ndarray
    feedback_labels: np.ndarray
    feedback_weight: float

    def training_set(
        self, feedback_rows: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, labels, sample weights): the base plus all the feedback, or the base plus
        `feedback_rows` of it; a feedback row weighs `feedback_weight`, a base row 1."""
        rows = np.arange(len(self.feedback)) if feedback_rows is None else feedback_rows
        return (
            np.concatenate([self.base, self.feedback[rows]]),
            np.r_[self.base_labels, self.feedback_labels[rows]],
            np.r_[np.ones(len(self.base)), np.full(len(rows), self.feedback_weight)],
        )


class ChallengerRecipe(ABC):
    """How a challenger is made from Sentiment140 and the feedback, and shipped as a bundle."""

    @property
    @abstractmethod
    def name(self) -> str:
        """The --recipe value."""

    @property
    @abstractmethod
    def model_family(self) -> str: ...

    @property
    @abstractmethod
    def embedding_type(self) -> str: ...

    @property
    @abstractmethod
    def default_weight(self) -> float:
        """--feedback-weight when none is given: the measured best."""

    @abstractmethod
    def features(self, texts: Sequence[str], progress: str | None = None) -> np.ndarray:
        """One feature row per raw tweet."""

    @abstractmethod
    def fit(self, features: Features, feedback_rows: np.ndarray | None = None) -> Any:
        """Fitted on the base plus the (chosen rows of the) weighted feedback."""

    @abstractmethod
    def score(self, fitted: Any, rows: np.ndarray) -> np.ndarray:
        """P(positive) of feature rows."""

    @abstractmethod
    def write_bundle(
        self,
        fitted: Any,
        directory: Path,
        parity_texts: Sequence[str],
        parity_labels: np.ndarray,
    ) -> Path:
        """The fitted model as a bundle the API serves (threshold 0.5: record() sets it)."""

    @abstractmethod
    def params(self) -> dict[str, Any]:
        """What the challenger's run logs of the recipe."""

    @property
    def onnx_threads(self) -> int | None:
        """Threads of the session that evaluates an ONNX bundle here (None: not ONNX)."""
        return None

    def prepare(self, data: FittingData, progress: str | None = None) -> Features:
        return Features(
            self.features(data.base_texts, progress),
            np.asarray(data.base_labels),
            self.features(data.feedback_texts, progress),
            np.asarray(data.feedback_labels),
            data.feedback_weight,
        )


def enough_for_threshold(labels: np.ndarray) -> bool:
    counts = np.bincount(labels.astype(int), minlength=2)
    return len(labels) >= THRESHOLD_MIN_ROWS and counts.min() >= THRESHOLD_MIN_PER_CLASS


def out_of_fold_scores(recipe: ChallengerRecipe, features: Features, seed: int) -> np.ndarray:
    """P(positive) of each feedback training row from a model fitted without its fold."""
    from sklearn.model_selection import StratifiedKFold

    folds = StratifiedKFold(THRESHOLD_FOLDS, shuffle=True, random_state=seed)
    scores = np.zeros(len(features.feedback_labels))
    for kept, held in folds.split(np.zeros(len(scores)), features.feedback_labels):
        fitted = recipe.fit(features, kept)
        scores[held] = recipe.score(fitted, features.feedback[held])
    return scores
