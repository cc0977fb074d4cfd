"""The neutral band: the scores a binary model is least sure of, labelled neutral.

A real stream of mentions is about a quarter neutral ("what time does boarding start?"); a
binary model calls each of them negative or positive, and the bad-buzz watch counts the ones
called negative. Where the owner has labelled tweets with neutral ones (training's
`--eval-data`), the band [low, high) of P(positive) is chosen on them to maximise the
three-class macro F1: each class weighs the same, so the band neither swallows the negatives
the watch counts nor lets the neutral ones through. The binary call (the threshold) is left as
it is: the KPI figures stay comparable.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import f1_score

from badbuzz.metric_names import NEUTRAL_CALLED_NEGATIVE
from training.data.client import LABEL_OF_VALUE, NEUTRAL
from training.data.sentiment140 import NEGATIVE, POSITIVE

MIN_NEUTRAL = 30  # fewer neutral tweets than this: no band (it would be chosen on noise)
GRID = 21  # candidate edges: every 5th percentile of the scores
BAND_LOW, BAND_HIGH = "neutral_band_low", "neutral_band_high"  # the band, as metrics
BAND_F1 = "neutral_band_macro_f1"
NEGATIVES_CALLED_NEUTRAL = "negatives_called_neutral"


def three_way(p_positive: np.ndarray, threshold: float, band: tuple[float, float]) -> np.ndarray:
    """Labels as the served model gives them: 0 negative, 1 positive, -1 neutral."""
    called = (p_positive >= threshold).astype(int)
    low, high = band
    return np.where((p_positive >= low) & (p_positive < high), NEUTRAL, called)


def choose_neutral_band(
    labels: np.ndarray, p_positive: np.ndarray, threshold: float
) -> tuple[float, float] | None:
    """The band of highest macro F1 over negative, neutral and positive; None with fewer than
    MIN_NEUTRAL neutral tweets, or when no band beats having none."""
    labels = np.asarray(labels, dtype=int)
    p_positive = np.asarray(p_positive, dtype=float)
    if int(np.sum(labels == NEUTRAL)) < MIN_NEUTRAL:
        return None
    edges = np.unique(np.quantile(p_positive, np.linspace(0, 1, GRID)))
    best, best_f1 = None, _macro_f1(labels, (p_positive >= threshold).astype(int))
    for i, low in enumerate(edges):
        for high in edges[i + 1 :]:
            band = (float(low), float(high))
            score = _macro_f1(labels, three_way(p_positive, threshold, band))
            if score > best_f1:
                best, best_f1 = band, score
    return best


def band_metrics(
    labels: np.ndarray, p_positive: np.ndarray, threshold: float, band: tuple[float, float]
) -> dict[str, float]:
    """What the band does: the macro F1, the neutral tweets still called negative, the
    negatives lost to neutral."""
    return served_metrics(labels, three_way(np.asarray(p_positive, dtype=float), threshold, band))


def served_label_codes(names: list[str]) -> np.ndarray:
    """Served labels (`negative`, `neutral`, `positive`) as the client's codes (0, -1, 1)."""
    return np.array([LABEL_OF_VALUE[name] for name in names], dtype=int)


def served_metrics(labels: np.ndarray, served: np.ndarray) -> dict[str, float]:
    """What a model's three-way labels (codes 0, 1, -1) do against the client's: the macro
    F1, the neutral tweets still called negative, the negatives lost to neutral."""
    labels = np.asarray(labels, dtype=int)
    neutral, negative = labels == NEUTRAL, labels == NEGATIVE
    return {
        BAND_F1: _macro_f1(labels, served),
        f"{NEUTRAL_CALLED_NEGATIVE}_with_band": float(np.mean(served[neutral] == NEGATIVE)),
        NEGATIVES_CALLED_NEUTRAL: float(np.mean(served[negative] == NEUTRAL)),
    }


def _macro_f1(labels: np.ndarray, called: np.ndarray) -> float:
    classes = [NEGATIVE, NEUTRAL, POSITIVE]
    return float(f1_score(labels, called, labels=classes, average="macro", zero_division=0))
