"""The lexicon estimators that scikit-learn bundles pickle: the VADER and TextBlob baselines
as classifiers over raw text, and VADER's scores as features beside the n-grams.

They live in the core, not in training, because unpickling a bundle imports the classes it
names: the serving image (no `training/`) must find them. Only an sklearn bundle that holds
one imports this module, so scikit-learn is loaded then and never by the bundle contract.

Nothing is learned: `fit` only records the classes. Their lexicons ship in their wheels, so
they work offline; the analyser is built lazily and never pickled into a bundle.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin


class LexiconClassifier(ClassifierMixin, BaseEstimator):
    """Maps a polarity score in [-1, 1] to a probability of positive."""

    def __init__(self, lexicon: str = "vader") -> None:
        self.lexicon = lexicon

    def fit(self, texts: Sequence[str], y: Sequence[int]) -> LexiconClassifier:
        if self.lexicon not in ("vader", "textblob"):
            raise ValueError(f"unknown lexicon {self.lexicon!r}: use 'vader' or 'textblob'")
        self.classes_ = np.array([0, 1])
        return self

    def _polarity(self) -> Any:
        analyser = getattr(self, "_analyser", None)
        if analyser is None:
            if self.lexicon == "vader":
                from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

                vader = SentimentIntensityAnalyzer()
                analyser = lambda text: vader.polarity_scores(text)["compound"]  # noqa: E731
            else:
                from textblob import TextBlob

                analyser = lambda text: TextBlob(text).sentiment.polarity  # noqa: E731
            self._analyser = analyser
        return analyser

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        polarity = self._polarity()
        p_positive = np.clip((np.array([polarity(t) for t in texts]) + 1.0) / 2.0, 0.0, 1.0)
        return np.column_stack([1.0 - p_positive, p_positive])

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        return (self.predict_proba(texts)[:, 1] >= 0.5).astype(int)

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_analyser"}


class VaderFeatures(TransformerMixin, BaseEstimator):
    """VADER compound, positive and negative scores as three dense features.

    Distant-supervision labels (emoticons) and a hand-built lexicon make different
    mistakes; giving a linear model both lifts the manual-test accuracy (bench/quality.py).
    """

    def fit(self, texts: Sequence[str], y: Sequence[int] | None = None) -> VaderFeatures:
        return self

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        analyser = getattr(self, "_analyser", None)
        if analyser is None:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

            analyser = self._analyser = SentimentIntensityAnalyzer()
        scores = [analyser.polarity_scores(text) for text in texts]
        return np.array([[s["compound"], s["pos"], s["neg"]] for s in scores], dtype=np.float32)

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_analyser"}
