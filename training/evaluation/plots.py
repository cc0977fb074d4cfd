"""Evaluation plots (confusion matrix, ROC, precision-recall) as matplotlib figures."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # headless: figures are files and MLflow artifacts

from matplotlib.figure import Figure
from sklearn.metrics import (
    ConfusionMatrixDisplay,
    PrecisionRecallDisplay,
    RocCurveDisplay,
)

from training.data.sentiment140 import NEGATIVE
from training.evaluation.metrics import Evaluation


def evaluation_figures(evaluation: Evaluation, title: str) -> dict[str, Figure]:
    """File name -> figure, for `mlflow.log_figure`."""
    y_negative = evaluation.y_true == NEGATIVE
    p_negative = 1.0 - evaluation.p_positive
    figures: dict[str, Figure] = {}

    figure = Figure(figsize=(4.5, 4))
    ConfusionMatrixDisplay(evaluation.confusion, display_labels=["negative", "positive"]).plot(
        ax=figure.add_subplot(), colorbar=False
    )
    figure.suptitle(f"{title}: confusion matrix at threshold {evaluation.threshold:.3g}")
    figures["confusion_matrix.png"] = figure

    if y_negative.all() or not y_negative.any():
        return figures  # curves need both classes
    figure = Figure(figsize=(4.5, 4))
    RocCurveDisplay.from_predictions(
        y_negative, p_negative, ax=figure.add_subplot(), name="negative"
    )
    figure.suptitle(f"{title}: ROC")
    figures["roc.png"] = figure

    figure = Figure(figsize=(4.5, 4))
    axes = figure.add_subplot()
    PrecisionRecallDisplay.from_predictions(y_negative, p_negative, ax=axes, name="negative")
    # the positive class's curve too: positive precision is the KPI
    PrecisionRecallDisplay.from_predictions(
        ~y_negative, evaluation.p_positive, ax=axes, name="positive"
    )
    figure.suptitle(f"{title}: precision-recall")
    figures["precision_recall.png"] = figure
    return figures
