"""The decision threshold rule (training/evaluation/thresholds.py) on hand-made scores."""

from __future__ import annotations

import numpy as np
import pytest

from training.evaluation.metrics import evaluate_scores
from training.evaluation.thresholds import choose_client_threshold, choose_threshold

# 5 negatives, 5 positives. Calling the top k positive, k = 3, 5, 6, 7 gives
#   threshold 0.825: accuracy 0.8, positive precision 1.0,  positive recall 0.6
#   threshold 0.65:  accuracy 0.8, positive precision 0.8,  positive recall 0.8
#   threshold 0.5:   accuracy 0.9, positive precision 5/6, positive recall 1.0 (the best)
#   threshold 0.35:  accuracy 0.8, positive precision 5/7, positive recall 1.0
Y = np.array([1, 1, 1, 0, 1, 1, 0, 0, 0, 0])
P = np.array([0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.4, 0.3, 0.2, 0.1])


def test_no_tolerance_keeps_the_most_accurate_threshold() -> None:
    assert choose_threshold(Y, P, accuracy_tolerance=0.0) == pytest.approx(0.5)


def test_tolerance_buys_positive_precision_with_accuracy() -> None:
    threshold = choose_threshold(Y, P, accuracy_tolerance=0.1, min_positive_recall=0.5)
    assert threshold == pytest.approx(0.825)
    metrics = evaluate_scores(Y, P, threshold).metrics
    assert metrics["positive_precision"] == 1.0
    assert metrics["accuracy"] == pytest.approx(0.8)
    assert metrics["negative_recall"] == 1.0


def test_recall_floor_keeps_out_thresholds_that_call_too_few_positive() -> None:
    # 0.825 calls 3 of the 5 positives positive: under a 0.7 floor, 0.5 wins (5/6 > 0.8)
    threshold = choose_threshold(Y, P, accuracy_tolerance=0.1, min_positive_recall=0.7)
    assert threshold == pytest.approx(0.5)


def test_an_unreachable_floor_falls_back_to_the_most_accurate_threshold() -> None:
    assert choose_threshold(Y, P, accuracy_tolerance=0.1, min_positive_recall=1.1) == 0.5


def test_equal_scores_are_never_split() -> None:
    # the two 0.7 scores are called alike: the cut falls between 0.7 and 0.3
    y = np.array([0, 1, 1, 1])
    p = np.array([0.3, 0.3, 0.7, 0.7])
    assert choose_threshold(y, p, accuracy_tolerance=0.0) == pytest.approx(0.5)


def test_one_class_keeps_the_default_threshold() -> None:
    assert choose_threshold(np.array([1, 1]), np.array([0.2, 0.9])) == 0.5


def tweets(negatives: int, positives: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels and scores of a model that ranks well but not perfectly: the same two score
    distributions (one per class) whatever the share of each class."""
    rng = np.random.default_rng(seed)
    scores = np.r_[rng.beta(2.0, 4.0, negatives), rng.beta(4.0, 2.0, positives)]
    return np.r_[np.zeros(negatives, dtype=int), np.ones(positives, dtype=int)], scores


VALIDATION = tweets(2000, 2000, seed=1)  # Sentiment140: half negative
MANUAL = tweets(180, 180, seed=2)
CLIENT = tweets(595, 105, seed=3)  # the planted client: 85 % negative
CLIENT_LATER = tweets(850, 150, seed=4)


def test_the_rule_picks_the_same_threshold_whatever_the_share_of_negatives() -> None:
    balanced = choose_threshold(*VALIDATION)
    skewed = choose_threshold(*CLIENT)
    assert skewed == pytest.approx(balanced, abs=0.03)


def test_the_client_threshold_on_85_percent_negatives_keeps_recall_and_manual_accuracy() -> None:
    chosen = choose_client_threshold(*CLIENT, *VALIDATION)
    assert chosen.source == "feedback"
    later = evaluate_scores(*CLIENT_LATER, chosen.threshold).metrics
    assert later["positive_recall"] >= 0.6  # well above the 0.5 floor
    manual = evaluate_scores(*MANUAL, chosen.threshold).metrics
    before = evaluate_scores(*MANUAL, choose_threshold(*VALIDATION)).metrics
    assert manual["accuracy"] >= before["accuracy"] - 0.01
    # plain accuracy on the client's tweets would have asked for far more: calling every
    # tweet negative is 85 % accurate, and its best threshold sits high
    thresholds = np.linspace(0.3, 0.95, 66)
    plain = [np.mean((CLIENT[1] >= t) == CLIENT[0]) for t in thresholds]
    assert thresholds[int(np.argmax(plain))] > chosen.threshold + 0.1


def test_a_client_threshold_no_validation_threshold_allows_falls_back_to_validation() -> None:
    labels, scores = CLIENT
    inverted = (labels, 1 - scores)  # a client whose labels the model reads backwards
    chosen = choose_client_threshold(*inverted, *VALIDATION)
    assert chosen.source == "validation"
    assert chosen.threshold == choose_threshold(*VALIDATION)
    one_class = choose_client_threshold(np.zeros(5, dtype=int), np.full(5, 0.2), *VALIDATION)
    assert one_class.source == "validation"
