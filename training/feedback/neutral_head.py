"""The neutral head: which of a client's tweets are neutral ("what time does boarding
start?"), learnt from the client's own verdicts, where a binary model's score cannot tell.

A real stream of mentions is about a quarter neutral. A band of P(positive) (the fallback,
`training.evaluation.neutral`) cannot separate a question from a complaint: both sit low on
a binary score. The head is a second opinion, neutral against the rest: the mean P(neutral) of
two class-balanced logistic regressions fitted on the client's labelled tweets only (a
Sentiment140 tweet says nothing about what is neutral for an airline), one on the frozen
MiniLM's embeddings (meaning), one on word 1-2-grams with `?` and `!` kept as tokens
(questions and requests).

The cut (`choose_cut`), out of fold: the most neutral tweets found less negatives lost, among
the cuts that call at most `max_negatives_lost` of the client's negatives neutral. Those are
the complaints the bad-buzz watch counts and the tweets the KPI protects: the owner says how
many of them a neutral label may take. On real mentions the budget binds (a question and a
complaint overlap); on cleanly separated verdicts the cut sits in the gap. Shipped as a
`mean` bundle in the challenger's `neutral/` folder (classes polar/neutral, its threshold the
cut), named by the challenger's manifest (`Manifest.neutral_head`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from badbuzz.bundle.manifest import Manifest
from badbuzz.bundle.model import NEUTRAL_HEAD_LABELS
from badbuzz.bundle.runtimes.mean import MEMBERS_FOLDER, write_members_file
from badbuzz.text import NormalizationConfig, normalize_many
from training.data.client import NEUTRAL
from training.data.sentiment140 import NEGATIVE
from training.encoder.head import EncoderConfig
from training.evaluation.neutral import MIN_NEUTRAL
from training.feedback.encoder_recipe import EncoderRecipe
from training.feedback.fitting import ChallengerRecipe

NEUTRAL_FOLDER = "neutral"
DEFAULT_MAX_NEGATIVES_LOST = 0.12  # the budget, chosen on the airline week (README "Neutral")
MIN_NEGATIVES = 30  # fewer client negatives than this: the budget cannot be held to
FOLDS = 5
WORD_TOKENS = r"[\w']+|[?!]"  # words, and the question and exclamation marks as tokens


@dataclass(frozen=True)
class FittedNeutralHead:
    embedding_head: Any  # LogisticRegression over embeddings
    word_head: Any  # Pipeline(TfidfVectorizer, LogisticRegression) over normalised texts
    cut: float  # P(neutral) >= cut: neutral
    rows: int  # the client's tweets it was fitted on
    neutral_rows: int
    out_of_fold_negatives_lost: float  # the share of negatives over the cut, out of fold
    out_of_fold_neutral_found: float  # the share of neutral tweets over the cut, out of fold


@dataclass
class NeutralHead:
    encoder: EncoderRecipe  # the embeddings (and their cache) of the challenger's encoder
    max_negatives_lost: float = DEFAULT_MAX_NEGATIVES_LOST
    c: float = 3.0
    seed: int = 42
    normalization: NormalizationConfig = field(default_factory=NormalizationConfig)

    def fit(self, texts: Sequence[str], labels: np.ndarray) -> FittedNeutralHead | None:
        """Fitted on the client's tweets (labels 0 negative, 1 positive, -1 neutral); None
        with fewer than MIN_NEUTRAL neutral or MIN_NEGATIVES negative tweets."""
        from sklearn.model_selection import StratifiedKFold, cross_val_predict

        labels = np.asarray(labels, dtype=int)
        neutral = (labels == NEUTRAL).astype(int)
        if neutral.sum() < MIN_NEUTRAL or np.sum(labels == NEGATIVE) < MIN_NEGATIVES:
            return None
        embeddings = self.encoder.features(texts)
        words = np.asarray(normalize_many(texts, self.normalization), dtype=object)
        folds = StratifiedKFold(FOLDS, shuffle=True, random_state=self.seed)
        heads = (self._embedding_head(), self._word_head())
        out_of_fold = np.mean(
            [
                cross_val_predict(head, rows, neutral, cv=folds, method="predict_proba")[:, 1]
                for head, rows in zip(heads, (embeddings, words), strict=True)
            ],
            axis=0,
        )
        negatives = out_of_fold[labels == NEGATIVE]
        cut = choose_cut(out_of_fold[neutral == 1], negatives, self.max_negatives_lost)
        return FittedNeutralHead(
            heads[0].fit(embeddings, neutral),
            heads[1].fit(words, neutral),
            cut,
            len(labels),
            int(neutral.sum()),
            float(np.mean(negatives >= cut)),
            float(np.mean(out_of_fold[neutral == 1] >= cut)),
        )

    def score(self, fitted: FittedNeutralHead, texts: Sequence[str]) -> np.ndarray:
        """P(neutral) of raw tweets, as the bundle computes it."""
        embeddings = self.encoder.features(texts)
        words = normalize_many(texts, self.normalization)
        return np.mean(
            [
                fitted.embedding_head.predict_proba(embeddings)[:, 1],
                fitted.word_head.predict_proba(words)[:, 1],
            ],
            axis=0,
        )

    def write_bundle(
        self, fitted: FittedNeutralHead, directory: Path, parity_texts: Sequence[str]
    ) -> Path:
        """The head as a `mean` bundle (classes polar/neutral, threshold the cut)."""
        from training.export.sklearn_bundle import write_sklearn_bundle

        parity_texts = list(parity_texts)
        parity = self.score(fitted, parity_texts) >= fitted.cut
        embedding_folder = f"{MEMBERS_FOLDER}/embeddings"
        word_folder = f"{MEMBERS_FOLDER}/words"
        self.encoder.write_bundle(
            fitted.embedding_head, directory / embedding_folder, parity_texts, parity.astype(int)
        )
        write_sklearn_bundle(directory / word_folder, fitted.word_head, self.normalization, 0.5)
        Manifest(
            runtime="mean",
            model_file=write_members_file(directory, [embedding_folder, word_folder]),
            normalization=None,
            threshold=fitted.cut,
            labels=dict(NEUTRAL_HEAD_LABELS),
            metadata={
                "model_family": "neutral_head",
                "rows": fitted.rows,
                "neutral_rows": fitted.neutral_rows,
                "max_negatives_lost": self.max_negatives_lost,
                "out_of_fold_negatives_lost": fitted.out_of_fold_negatives_lost,
                "out_of_fold_neutral_found": fitted.out_of_fold_neutral_found,
            },
        ).write(directory)
        return directory

    def attach(
        self, fitted: FittedNeutralHead, bundle_dir: Path, parity_texts: Sequence[str]
    ) -> None:
        """Write the head into `bundle_dir/neutral` and name it in the bundle's manifest (its
        hashes rewritten: a signature, if any, is gone until signed again)."""
        self.write_bundle(fitted, bundle_dir / NEUTRAL_FOLDER, parity_texts)
        manifest = Manifest.read(bundle_dir)
        manifest.neutral_head = NEUTRAL_FOLDER
        manifest.write(bundle_dir)

    def _embedding_head(self) -> Any:
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(
            C=self.c, class_weight="balanced", max_iter=4000, random_state=self.seed
        )

    def _word_head(self) -> Any:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.pipeline import Pipeline

        return Pipeline(
            [
                (
                    "features",
                    TfidfVectorizer(
                        ngram_range=(1, 2), sublinear_tf=True, token_pattern=WORD_TOKENS
                    ),
                ),
                ("clf", self._embedding_head()),
            ]
        )


def choose_cut(neutral: np.ndarray, negatives: np.ndarray, max_negatives_lost: float) -> float:
    """The P(neutral) cut that finds the most neutral tweets less negatives lost (Youden's J)
    among those that call at most `max_negatives_lost` of the negatives neutral, placed
    halfway to the next score below it (on separable scores: in the gap, not on its edge)."""
    cuts = np.unique(np.r_[neutral, negatives])[::-1]  # high to low
    found = (neutral[None, :] >= cuts[:, None]).mean(axis=1)
    lost = (negatives[None, :] >= cuts[:, None]).mean(axis=1)
    gain = np.where(lost <= max_negatives_lost, found - lost, -np.inf)
    best = int(np.argmax(gain))  # the highest of the best cuts
    below = float(cuts[best + 1]) if best + 1 < len(cuts) else 0.0
    return (float(cuts[best]) + below) / 2


def neutral_head_for(
    recipe: ChallengerRecipe, embeddings_dir: Path, seed: int, max_negatives_lost: float
) -> NeutralHead:
    """The head of a challenger: on its own encoder's embeddings where it has one (the
    ensemble's, the encoder recipe's), else on the default encoder's, cached in
    `embeddings_dir`."""
    members = getattr(recipe, "members", (recipe,))
    encoders = [member for member in members if isinstance(member, EncoderRecipe)]
    encoder = encoders[0] if encoders else EncoderRecipe(embeddings_dir, EncoderConfig(seed=seed))
    return NeutralHead(encoder, max_negatives_lost, seed=seed)
