"""The names of the metrics that training logs as version tags and that promotion and the API
rank versions by. Kept here, apart from the code that computes them, so that the CLI can
offer them as choices without importing scikit-learn or pandas.

*Negative* is the class of interest: `precision`, `recall` and `f1` without a suffix are
those of the negative class (of the tweets called negative, the share that are; of the
negative tweets, the share called negative).
"""

from __future__ import annotations

from typing import Literal, get_args

SelectableMetric = Literal["precision", "recall", "f1", "roc_auc", "buzz_score", "accuracy"]
SELECTABLE_METRICS: tuple[str, ...] = get_args(SelectableMetric)
MANUAL_PREFIX = "manual_"  # the same metric, scored on the Sentiment140 manual test set

# A version tag to rank by: a held-out metric, or the same on the manual test set.
RankingTag = Literal[
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "buzz_score",
    "accuracy",
    "manual_precision",
    "manual_recall",
    "manual_f1",
    "manual_roc_auc",
    "manual_buzz_score",
    "manual_accuracy",
]
