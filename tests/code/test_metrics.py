from __future__ import annotations

import numpy as np
import pytest

from training.evaluation.metrics import buzz_score, evaluate_scores, three_class_report


def test_metrics_match_hand_computed_values() -> None:
    # 4 negatives (0), 2 positives (1). Predicted negative when p_positive < 0.5.
    y_true = np.array([0, 0, 0, 0, 1, 1])
    p_positive = np.array([0.1, 0.2, 0.3, 0.9, 0.4, 0.8])
    m = evaluate_scores(y_true, p_positive, threshold=0.5).metrics
    # predicted: 0 0 0 1 0 1 -> 3 of the 4 called negative are; 1 of the 2 called positive
    assert m["negative_precision"] == pytest.approx(3 / 4)
    assert m["negative_recall"] == pytest.approx(3 / 4)
    assert m["negative_f1"] == pytest.approx(3 / 4)
    assert m["positive_precision"] == pytest.approx(1 / 2)
    assert m["positive_recall"] == pytest.approx(1 / 2)
    assert m["accuracy"] == pytest.approx(4 / 6)
    # ROC AUC: of the 8 (negative, positive) pairs, 6 rank the negative as more negative.
    assert m["roc_auc"] == pytest.approx(6 / 8)
    # by score the positives come 2nd (0.8) and 3rd (0.4): precision 1/2, then 2/3
    assert m["positive_average_precision"] == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert m["macro_f1"] == pytest.approx((3 / 4 + 1 / 2) / 2)
    expected_buzz = 0.4 * 0.75 + 0.3 * 0.75 + 0.2 * 0.75 + 0.1 * 0.75
    assert m["buzz_score"] == pytest.approx(expected_buzz)


def test_metrics_at_half_are_reported_beside_those_at_the_threshold() -> None:
    y_true = np.array([0, 0, 0, 0, 1, 1])
    p_positive = np.array([0.1, 0.2, 0.3, 0.9, 0.4, 0.8])
    m = evaluate_scores(y_true, p_positive, threshold=0.85).metrics
    # at 0.85 only the 0.9 negative is called positive; at 0.5 the figures above
    assert m["positive_precision"] == 0.0
    assert m["negative_recall"] == pytest.approx(3 / 4)
    assert m["accuracy"] == pytest.approx(3 / 6)
    assert m["positive_precision_at_0.5"] == pytest.approx(1 / 2)
    assert m["accuracy_at_0.5"] == pytest.approx(4 / 6)
    assert "roc_auc_at_0.5" not in m  # the same at any threshold


def test_buzz_score_weights() -> None:
    assert buzz_score(precision=1, recall=0, f1=0, roc_auc=0) == pytest.approx(0.1)
    assert buzz_score(precision=0, recall=1, f1=0, roc_auc=0) == pytest.approx(0.4)
    assert buzz_score(precision=0, recall=0, f1=1, roc_auc=0) == pytest.approx(0.3)
    assert buzz_score(precision=0, recall=0, f1=0, roc_auc=1) == pytest.approx(0.2)


def test_threshold_moves_predictions() -> None:
    y_true = np.array([0, 1])
    p = np.array([0.55, 0.9])
    assert evaluate_scores(y_true, p, threshold=0.5).metrics["accuracy"] == 0.5
    assert evaluate_scores(y_true, p, threshold=0.6).metrics["accuracy"] == 1.0


def test_single_class_gives_nan_auc_not_an_error() -> None:
    m = evaluate_scores(np.array([0, 0]), np.array([0.1, 0.7]), 0.5).metrics
    assert np.isnan(m["roc_auc"]) and m["negative_recall"] == 0.5


def test_three_class_report_reads_the_neutral_band() -> None:
    report = three_class_report(np.array([0, 2, 4, 4]), np.array([0.1, 0.55, 0.95, 0.5]), 0.2)
    assert report["confusion"] == [[1, 0, 0], [0, 1, 0], [0, 1, 1]]
    assert report["accuracy"] == 0.75


def test_the_cv_search_scores_as_the_run_metrics_do() -> None:
    import pickle

    from training.classical.search import scorer_for

    y_true = np.array([0, 0, 0, 0, 1, 1])
    p_positive = np.array([0.1, 0.2, 0.3, 0.9, 0.4, 0.8])

    class Fixed:
        def predict_proba(self, texts: list[str]) -> np.ndarray:
            return np.column_stack([1 - p_positive, p_positive])

    scorer = pickle.loads(pickle.dumps(scorer_for("positive_precision")))  # sent to workers
    assert scorer(Fixed(), ["tweet"] * 6, y_true) == pytest.approx(1 / 2)
    with pytest.raises(ValueError, match="cannot optimise 'precision'"):
        scorer_for("precision")  # an old name: it hid its class
