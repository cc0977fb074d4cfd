"""One evaluation for every model family.

Every metric names its class (`badbuzz.metric_names` lists them). The KPI is
`positive_precision` (calling a negative tweet positive is the costly error); the buzz
score keeps *negative* as its class of interest:

    buzz_score = 0.4 * negative_recall + 0.3 * negative_f1 + 0.2 * roc_auc
                 + 0.1 * negative_precision

Metrics that depend on the threshold are given at the threshold asked for, and again at
0.5 with the suffix `_at_0.5`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from badbuzz.bundle.model import Decision
from badbuzz.metric_names import (
    AT_DEFAULT_THRESHOLD,
    DEFAULT_THRESHOLD,
    NEGATIVE_SHARE,
    NEUTRAL_CALLED_NEGATIVE,
    NEUTRAL_CALLED_POSITIVE,
)
from training.data.sentiment140 import LABEL_NAMES, NEGATIVE, POSITIVE

BUZZ_WEIGHTS = {"recall": 0.4, "f1": 0.3, "roc_auc": 0.2, "precision": 0.1}


def buzz_score(precision: float, recall: float, f1: float, roc_auc: float) -> float:
    """Precision, recall and F1 of the negative class; ROC AUC."""
    values = {"precision": precision, "recall": recall, "f1": f1, "roc_auc": roc_auc}
    return sum(weight * values[name] for name, weight in BUZZ_WEIGHTS.items())


@dataclass(frozen=True)
class Evaluation:
    metrics: dict[str, float]
    confusion: np.ndarray  # rows: true negative/positive, columns: predicted at the threshold
    y_true: np.ndarray
    p_positive: np.ndarray
    threshold: float


def decision_metrics(y_true: np.ndarray, y_pred: np.ndarray, roc_auc: float) -> dict[str, float]:
    """The metrics of hard labels (0 negative, 1 positive): they move with the threshold."""
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    precision, recall, f1, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=[NEGATIVE, POSITIVE], zero_division=0
    )
    metrics = {"accuracy": float(accuracy_score(y_true, y_pred))}
    for label in (NEGATIVE, POSITIVE):
        name = LABEL_NAMES[label]
        metrics[f"{name}_precision"] = float(precision[label])
        metrics[f"{name}_recall"] = float(recall[label])
        metrics[f"{name}_f1"] = float(f1[label])
    metrics["macro_f1"] = float(np.mean(f1))
    metrics["buzz_score"] = buzz_score(
        metrics["negative_precision"], metrics["negative_recall"], metrics["negative_f1"], roc_auc
    )
    return metrics


def evaluate_scores(y_true: np.ndarray, p_positive: np.ndarray, threshold: float) -> Evaluation:
    """Metrics for binary labels (0 negative, 1 positive) and positive-class probabilities,
    at `threshold` and at 0.5."""
    from sklearn.metrics import (  # lazy: the CLI's --help must not pay for sklearn
        average_precision_score,
        confusion_matrix,
        roc_auc_score,
    )

    y_true = np.asarray(y_true, dtype=int)
    p_positive = np.asarray(p_positive, dtype=float)
    nan = float("nan")
    two_classes = len(np.unique(y_true)) == 2
    roc_auc = float(roc_auc_score(y_true, p_positive)) if two_classes else nan
    ranking = {
        "roc_auc": roc_auc,
        "positive_average_precision": (
            float(average_precision_score(y_true == POSITIVE, p_positive)) if two_classes else nan
        ),
        "negative_average_precision": (
            float(average_precision_score(y_true == NEGATIVE, 1.0 - p_positive))
            if two_classes
            else nan
        ),
    }

    def predicted(cut: float) -> np.ndarray:
        return np.where(Decision(cut).is_positive(p_positive), POSITIVE, NEGATIVE)

    y_pred = predicted(threshold)
    at_default = decision_metrics(y_true, predicted(DEFAULT_THRESHOLD), roc_auc)
    metrics = {
        **decision_metrics(y_true, y_pred, roc_auc),
        **ranking,
        **{f"{name}{AT_DEFAULT_THRESHOLD}": value for name, value in at_default.items()},
    }
    confusion = confusion_matrix(y_true, y_pred, labels=[NEGATIVE, POSITIVE])
    return Evaluation(metrics, confusion, y_true, p_positive, threshold)


def three_class_report(
    polarity: np.ndarray, p_positive: np.ndarray, neutral_band: float
) -> dict[str, Any]:
    """Reads scores within `neutral_band` of 0.5 as neutral, against 0/2/4 polarities."""
    from sklearn.metrics import confusion_matrix

    polarity = np.asarray(polarity, dtype=int)
    predicted = np.where(
        np.abs(p_positive - 0.5) <= neutral_band / 2, 2, np.where(p_positive > 0.5, 4, 0)
    )
    order = [0, 2, 4]
    return {
        "neutral_band": neutral_band,
        "accuracy": float(np.mean(predicted == polarity)),
        "labels": ["negative", "neutral", "positive"],
        "confusion": confusion_matrix(polarity, predicted, labels=order).tolist(),
    }


def client_metrics(
    labels: np.ndarray, p_positive: np.ndarray, threshold: float
) -> dict[str, float]:
    """A client's labelled tweets (0 negative, 1 positive, -1 neutral): the binary metrics on
    the negative and positive ones (at `threshold` and at 0.5), their share of negatives
    (the client's prior), and where the neutral ones go: the share called negative, and
    positive (NaN without neutral tweets)."""
    labels = np.asarray(labels, dtype=int)
    p_positive = np.asarray(p_positive, dtype=float)
    binary_rows = labels >= 0
    metrics = evaluate_scores(labels[binary_rows], p_positive[binary_rows], threshold).metrics
    metrics[NEGATIVE_SHARE] = float(np.mean(labels[binary_rows] == NEGATIVE))
    neutral = p_positive[labels < 0]
    called_positive = (
        float(np.mean(Decision(threshold).is_positive(neutral))) if neutral.size else float("nan")
    )
    metrics[NEUTRAL_CALLED_POSITIVE] = called_positive
    metrics[NEUTRAL_CALLED_NEGATIVE] = 1.0 - called_positive
    return metrics
