"""One evaluation for every model family.

*Negative* is the class of interest: the airline wants to catch negative
tweets. So `precision`, `recall` and `f1` without a suffix are those of the
negative class, and

    buzz_score = 0.4 * recall + 0.3 * f1 + 0.2 * roc_auc + 0.1 * precision

with recall, F1 and precision of the negative class and ROC AUC of the
negative-class score (which equals the usual ROC AUC). Per-class and macro
figures are reported too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from badbuzz.bundle.model import Decision
from training.data.sentiment140 import LABEL_NAMES, NEGATIVE, POSITIVE

BUZZ_WEIGHTS = {"recall": 0.4, "f1": 0.3, "roc_auc": 0.2, "precision": 0.1}


def buzz_score(precision: float, recall: float, f1: float, roc_auc: float) -> float:
    values = {"precision": precision, "recall": recall, "f1": f1, "roc_auc": roc_auc}
    return sum(weight * values[name] for name, weight in BUZZ_WEIGHTS.items())


@dataclass(frozen=True)
class Evaluation:
    metrics: dict[str, float]
    confusion: np.ndarray  # rows: true negative/positive, columns: predicted
    y_true: np.ndarray
    p_positive: np.ndarray


def evaluate_scores(y_true: np.ndarray, p_positive: np.ndarray, threshold: float) -> Evaluation:
    """Metrics for binary labels (0 negative, 1 positive) and positive-class probabilities."""
    from sklearn.metrics import (  # lazy: the CLI's --help must not pay for sklearn
        accuracy_score,
        average_precision_score,
        confusion_matrix,
        precision_recall_fscore_support,
        roc_auc_score,
    )

    y_true = np.asarray(y_true, dtype=int)
    p_positive = np.asarray(p_positive, dtype=float)
    y_pred = np.where(Decision(threshold).is_positive(p_positive), POSITIVE, NEGATIVE)
    labels = [NEGATIVE, POSITIVE]
    precision, recall, f1, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    two_classes = len(np.unique(y_true)) == 2
    p_negative = 1.0 - p_positive
    roc_auc = float(roc_auc_score(y_true == NEGATIVE, p_negative)) if two_classes else float("nan")
    pr_auc = (
        float(average_precision_score(y_true == NEGATIVE, p_negative))
        if two_classes
        else float("nan")
    )
    metrics: dict[str, float] = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "precision": float(precision[NEGATIVE]),
        "recall": float(recall[NEGATIVE]),
        "f1": float(f1[NEGATIVE]),
        "roc_auc": roc_auc,
        "pr_auc": pr_auc,
    }
    for label in labels:
        name = LABEL_NAMES[label]
        metrics[f"precision_{name}"] = float(precision[label])
        metrics[f"recall_{name}"] = float(recall[label])
        metrics[f"f1_{name}"] = float(f1[label])
    metrics["precision_macro"] = float(np.mean(precision))
    metrics["recall_macro"] = float(np.mean(recall))
    metrics["f1_macro"] = float(np.mean(f1))
    metrics["buzz_score"] = buzz_score(
        metrics["precision"], metrics["recall"], metrics["f1"], roc_auc
    )
    confusion = confusion_matrix(y_true, y_pred, labels=labels)
    return Evaluation(metrics, confusion, y_true, p_positive)


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
