"""The decision threshold rule (training/evaluation/thresholds.py) on hand-made scores."""

from __future__ import annotations

import numpy as np
import pytest

from training.evaluation.metrics import evaluate_scores
from training.evaluation.thresholds import choose_threshold

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
