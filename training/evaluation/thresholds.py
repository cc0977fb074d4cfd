"""The decision threshold of a bundle, chosen on validation data for the KPI.

The rule, for every family alike: among the thresholds whose validation accuracy is within
`accuracy_tolerance` of the best one's and whose positive recall is at least
`min_positive_recall`, take the one with the highest positive precision (ties: the more
accurate, then the nearer to 0.5).

Raising the threshold calls fewer tweets positive, so positive precision goes up and
accuracy eventually down; the tolerance says how much accuracy the KPI may buy. Two points
of validation accuracy move positive precision by several (`python -m bench.quality` on the
shared Sentiment140 subset, TF-IDF + logistic regression: threshold 0.668, manual positive
precision 0.809 -> 0.874, manual accuracy 0.836 -> 0.841; the manual tweets are easier than
the subset's own, so accuracy there did not drop). The positive-recall floor is the
promotion floor (`badbuzz.metric_names.DEFAULT_FLOOR`): a threshold that calls fewer than
half the positive tweets positive is never chosen.
"""

from __future__ import annotations

import numpy as np

from badbuzz.metric_names import DEFAULT_FLOOR, DEFAULT_THRESHOLD

ACCURACY_TOLERANCE = 0.02
RULE = "max positive_precision, accuracy within tolerance of the best, positive_recall floor"


def choose_threshold(
    y_true: np.ndarray,
    p_positive: np.ndarray,
    accuracy_tolerance: float = ACCURACY_TOLERANCE,
    min_positive_recall: float = DEFAULT_FLOOR,
) -> float:
    """The threshold of the rule above, for labels (0 negative, 1 positive) and P(positive).

    Candidates are the midpoints between consecutive distinct scores (and the lowest score,
    which calls every tweet positive), so a tweet never sits on the threshold. When no
    candidate within the tolerance keeps the recall floor, the most accurate one is taken;
    with a single class there is nothing to choose from, and the threshold stays 0.5.
    """
    y_true = np.asarray(y_true, dtype=int)
    p_positive = np.asarray(p_positive, dtype=float)
    positives = int(y_true.sum())
    negatives = len(y_true) - positives
    if positives == 0 or negatives == 0:
        return DEFAULT_THRESHOLD
    order = np.argsort(-p_positive, kind="stable")
    scores = p_positive[order]
    # candidate j calls positive every tweet scored >= the j-th distinct score (descending)
    last_of_group = np.flatnonzero(np.r_[scores[1:] != scores[:-1], True])
    called = last_of_group + 1
    true_positives = np.cumsum(y_true[order])[last_of_group]
    next_scores = np.r_[scores[last_of_group[:-1] + 1], scores[-1]]
    thresholds = np.where(
        called < len(scores), (scores[last_of_group] + next_scores) / 2, scores[-1]
    )
    true_negatives = negatives - (called - true_positives)
    accuracy = (true_positives + true_negatives) / len(y_true)
    precision = true_positives / called
    recall = true_positives / positives

    eligible = (accuracy >= accuracy.max() - accuracy_tolerance) & (recall >= min_positive_recall)
    if not eligible.any():
        eligible = accuracy == accuracy.max()
    candidates = np.flatnonzero(eligible)
    # lexsort: the last key is the primary one
    best = np.lexsort(
        (
            -np.abs(thresholds[candidates] - DEFAULT_THRESHOLD),
            accuracy[candidates],
            precision[candidates],
        )
    )[-1]
    return float(thresholds[candidates[best]])
