"""The decision threshold of a bundle, chosen for the KPI on labelled scores.

The rule, for every family alike: among the thresholds whose *balanced* accuracy (the mean
of positive and negative recall) is within `accuracy_tolerance` of the best one's and whose
positive recall is at least `min_positive_recall`, take the one with the highest positive
precision (ties: the more balanced-accurate, then the nearer to 0.5).

Raising the threshold calls fewer tweets positive, so positive precision goes up and
accuracy eventually down; the tolerance says how much accuracy the KPI may buy. Two points
of validation accuracy move positive precision by several (`python -m bench.quality` on the
shared Sentiment140 subset, TF-IDF + logistic regression: threshold 0.668, manual positive
precision 0.809 -> 0.874, manual accuracy 0.836 -> 0.841; the manual tweets are easier than
the subset's own, so accuracy there did not drop). The positive-recall floor is the
promotion floor (`badbuzz.metric_names.DEFAULT_FLOOR`): a threshold that calls fewer than
half the positive tweets positive is never chosen.

**Why balanced accuracy: the rule survives a prior shift.** Sentiment140 is half negative,
a client's tweets 60 to 90 %. Positive and negative recall are rates *within* a class, so a
shift of the class prior leaves them alone; plain accuracy does not (on 85 % negatives,
calling everything negative is 85 % accurate, and "within two points of the best" then
admits thresholds that call almost nothing positive). Positive precision moves with the
prior, but its ranking of thresholds does not: it grows with the ratio of positive to
negative recall whatever the prior. So every term of the rule is prior-free, and the rule
picks the same threshold on balanced and on skewed data drawn from the same tweets. On
balanced data (the validation split is stratified) balanced accuracy *is* accuracy: what
training chose before is unchanged.

For a client (`choose_client_threshold`, used by `badbuzz retrain`) the rule holds on the
client's scores **and** on Sentiment140's validation scores together; when no threshold
satisfies both, the one of the training distribution is kept. The alternative, the
threshold of the training distribution moved by the standard prior-shift correction of the
posterior's odds (Saerens et al., 2002), is the accuracy-optimal cut for a calibrated model
under the client's prior: on airline tweets (84 % negative) it moved an SVM's 0.66 to above
0.9, where less than half the positive tweets are called positive (README, "Thresholds
under a prior shift"), so it is not used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from badbuzz.metric_names import DEFAULT_FLOOR, DEFAULT_THRESHOLD

ACCURACY_TOLERANCE = 0.02
RULE = (
    "max positive_precision, balanced accuracy within tolerance of the best, positive_recall floor"
)
CLIENT_RULE = f"{RULE}: on the client's scores and the validation split's together"


@dataclass(frozen=True)
class Rates:
    """What calling positive every score >= each threshold does to labelled scores."""

    thresholds: np.ndarray
    positive_recall: np.ndarray
    negative_recall: np.ndarray
    positive_precision: np.ndarray  # 0 where nothing is called positive

    @property
    def balanced_accuracy(self) -> np.ndarray:
        return (self.positive_recall + self.negative_recall) / 2

    def near_best(self, accuracy_tolerance: float, min_positive_recall: float) -> np.ndarray:
        """The thresholds of the rule: balanced accuracy within tolerance, recall floor."""
        balanced = self.balanced_accuracy
        return (balanced >= balanced.max() - accuracy_tolerance) & (
            self.positive_recall >= min_positive_recall
        )


def candidate_thresholds(p_positive: np.ndarray) -> np.ndarray:
    """Midpoints between consecutive distinct scores, and the lowest score (which calls
    every tweet positive): a tweet never sits on a threshold."""
    distinct = np.unique(np.asarray(p_positive, dtype=float))
    return np.r_[(distinct[1:] + distinct[:-1]) / 2, distinct[0]]


def rates(y_true: np.ndarray, p_positive: np.ndarray, thresholds: np.ndarray) -> Rates:
    """Recall of each class and positive precision at each threshold (positive when
    P(positive) >= threshold, as `Decision` decides)."""
    y_true = np.asarray(y_true, dtype=int)
    p_positive = np.asarray(p_positive, dtype=float)
    positives, negatives = np.sort(p_positive[y_true == 1]), np.sort(p_positive[y_true == 0])
    true_positives = len(positives) - np.searchsorted(positives, thresholds, side="left")
    false_positives = len(negatives) - np.searchsorted(negatives, thresholds, side="left")
    called = true_positives + false_positives
    precision = np.divide(true_positives, called, out=np.zeros(len(thresholds)), where=called > 0)
    return Rates(
        thresholds=np.asarray(thresholds, dtype=float),
        positive_recall=true_positives / max(len(positives), 1),
        negative_recall=1 - false_positives / max(len(negatives), 1),
        positive_precision=precision,
    )


def _best(scored: Rates, eligible: np.ndarray) -> float:
    """The eligible threshold of highest positive precision (ties: the more balanced-
    accurate, then the nearer to 0.5)."""
    candidates = np.flatnonzero(eligible)
    best = np.lexsort(  # the last key is the primary one
        (
            -np.abs(scored.thresholds[candidates] - DEFAULT_THRESHOLD),
            scored.balanced_accuracy[candidates],
            scored.positive_precision[candidates],
        )
    )[-1]
    return float(scored.thresholds[candidates[best]])


def two_classes(y_true: np.ndarray) -> bool:
    return len(np.unique(np.asarray(y_true, dtype=int))) == 2


def choose_threshold(
    y_true: np.ndarray,
    p_positive: np.ndarray,
    accuracy_tolerance: float = ACCURACY_TOLERANCE,
    min_positive_recall: float = DEFAULT_FLOOR,
) -> float:
    """The threshold of the rule above, for labels (0 negative, 1 positive) and P(positive).

    When no candidate within the tolerance keeps the recall floor, the most balanced-accurate
    one is taken; with a single class there is nothing to choose from, and the threshold
    stays 0.5.
    """
    if not two_classes(y_true):
        return DEFAULT_THRESHOLD
    scored = rates(y_true, p_positive, candidate_thresholds(p_positive))
    eligible = scored.near_best(accuracy_tolerance, min_positive_recall)
    if not eligible.any():
        eligible = scored.balanced_accuracy == scored.balanced_accuracy.max()
    return _best(scored, eligible)


@dataclass(frozen=True)
class ClientThreshold:
    threshold: float
    source: str  # "feedback": chosen on both; "validation": the training distribution's


def choose_client_threshold(
    client_labels: np.ndarray,
    client_scores: np.ndarray,
    base_labels: np.ndarray,
    base_scores: np.ndarray,
    accuracy_tolerance: float = ACCURACY_TOLERANCE,
    min_positive_recall: float = DEFAULT_FLOOR,
) -> ClientThreshold:
    """The rule on the client's scores and the training distribution's (`base`) at once: a
    threshold eligible on both (balanced accuracy within the tolerance of each one's best,
    positive recall over the floor on each), of the highest positive precision on the
    client's. None eligible on both: `choose_threshold` on the base alone."""
    fallback = ClientThreshold(
        choose_threshold(base_labels, base_scores, accuracy_tolerance, min_positive_recall),
        "validation",
    )
    if not two_classes(client_labels):
        return fallback
    candidates = candidate_thresholds(np.r_[client_scores, base_scores])
    client = rates(client_labels, client_scores, candidates)
    base = rates(base_labels, base_scores, candidates)
    eligible = client.near_best(accuracy_tolerance, min_positive_recall) & base.near_best(
        accuracy_tolerance, min_positive_recall
    )
    if not eligible.any():
        return fallback
    return ClientThreshold(_best(client, eligible), "feedback")
