"""The names of the metrics that training logs (as run metrics and version tags) and that
promotion and the API rank versions by. Kept here, apart from the code that computes them, so
that the CLI can offer them as choices without importing scikit-learn or pandas.

Every name says its class. The business KPI is `positive_precision`: of the tweets called
positive, the share that are. Calling a negative tweet positive is the costly error (a
complaint read as praise is a bad buzz missed), and `positive_precision` counts exactly
that error. Its floor on the other side is `positive_recall`, the share of positive tweets
called positive: precision alone rewards a model that calls almost nothing positive.

- `positive_precision`, `positive_recall`, `positive_f1`: of the positive class;
- `negative_precision`, `negative_recall`, `negative_f1`: of the negative class;
- `accuracy`: the share of tweets labelled right;
- `roc_auc`: ROC AUC, the same for either class;
- `positive_average_precision`, `negative_average_precision`: area under that class's
  precision-recall curve;
- `buzz_score`: 0.4 negative recall + 0.3 negative F1 + 0.2 ROC AUC + 0.1 negative
  precision. Its class of interest is *negative*: it measures catching bad buzz.

Metrics that depend on the decision threshold are those of the bundle's own threshold (the
one chosen on validation data, the one serving applies); the same figures at
`DEFAULT_THRESHOLD` carry the suffix `AT_DEFAULT_THRESHOLD` (`positive_precision_at_0.5`).

Where they were measured is a prefix: none for Sentiment140's held-out split, `manual_` for
its manual test set, `client_` for a client's labelled export (`badbuzz train --eval-data`,
`badbuzz evaluate --label-column`). A client's export has neutral tweets too, and skewed
classes: `client_neutral_called_negative` and `client_neutral_called_positive` are the
shares of its neutral tweets called each way, `client_negative_share` the share of
negatives among its negative and positive tweets.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final, Literal, get_args

SelectableMetric = Literal[
    "positive_precision",
    "positive_recall",
    "positive_f1",
    "negative_precision",
    "negative_recall",
    "negative_f1",
    "accuracy",
    "roc_auc",
    "positive_average_precision",
    "negative_average_precision",
    "buzz_score",
]
SELECTABLE_METRICS: tuple[str, ...] = get_args(SelectableMetric)
MANUAL_PREFIX = "manual_"  # the same metric, scored on the Sentiment140 manual test set
CLIENT_PREFIX = "client_"  # the same metric, scored on a client's labelled export
NEGATIVE_SHARE = "negative_share"  # of the negative and positive tweets: the class prior
NEUTRAL_CALLED_NEGATIVE = "neutral_called_negative"  # share of the neutral tweets
NEUTRAL_CALLED_POSITIVE = "neutral_called_positive"
CLIENT_ONLY: tuple[str, ...] = (NEGATIVE_SHARE, NEUTRAL_CALLED_NEGATIVE, NEUTRAL_CALLED_POSITIVE)

# A version tag to rank by: a held-out metric, or the same on the manual test set or on the
# client's export.
RankingTag = Literal[
    "positive_precision",
    "positive_recall",
    "positive_f1",
    "negative_precision",
    "negative_recall",
    "negative_f1",
    "accuracy",
    "roc_auc",
    "positive_average_precision",
    "negative_average_precision",
    "buzz_score",
    "manual_positive_precision",
    "manual_positive_recall",
    "manual_positive_f1",
    "manual_negative_precision",
    "manual_negative_recall",
    "manual_negative_f1",
    "manual_accuracy",
    "manual_roc_auc",
    "manual_positive_average_precision",
    "manual_negative_average_precision",
    "manual_buzz_score",
    "client_positive_precision",
    "client_positive_recall",
    "client_positive_f1",
    "client_negative_precision",
    "client_negative_recall",
    "client_negative_f1",
    "client_accuracy",
    "client_roc_auc",
    "client_positive_average_precision",
    "client_negative_average_precision",
    "client_buzz_score",
]

KPI: Final = "positive_precision"  # what promotion and the API rank by unless told otherwise
FLOOR_METRIC = "positive_recall"  # a version below the floor is not ranked
# Half the positive tweets called positive: a model under it buys its precision by calling
# almost nothing positive (at their chosen thresholds, TF-IDF + logistic regression or SVM
# keep about 0.67 on the held-out split, the lexicons just over 0.5).
DEFAULT_FLOOR = 0.5

DEFAULT_THRESHOLD = 0.5
AT_DEFAULT_THRESHOLD = "_at_0.5"  # suffix of the threshold-dependent metrics at 0.5
THRESHOLD_DEPENDENT: tuple[str, ...] = (
    "accuracy",
    "positive_precision",
    "positive_recall",
    "positive_f1",
    "negative_precision",
    "negative_recall",
    "negative_f1",
    "macro_f1",
    "buzz_score",
)

# Versions registered before the names said their class carry the old tags, all of them
# for the negative class, at a 0.5 threshold (then the only one). The new name is read
# first, then the old tag it replaces.
LEGACY_TAGS: dict[str, str] = {
    "negative_precision": "precision",
    "negative_recall": "recall",
    "negative_f1": "f1",
    "manual_negative_precision": "manual_precision",
    "manual_negative_recall": "manual_recall",
    "manual_negative_f1": "manual_f1",
}


CURRENT_NAMES: dict[str, str] = {old: new for new, old in LEGACY_TAGS.items()}


def floor_metric(ranking: str) -> str:
    """The recall tag a version must keep over the floor to be ranked by `ranking`: the
    client's positive recall when ranking on the client's tweets (what the client sees),
    else the held-out one."""
    return CLIENT_PREFIX + FLOOR_METRIC if ranking.startswith(CLIENT_PREFIX) else FLOOR_METRIC


def current_name(name: str) -> str:
    """The name a metric has now (`precision` -> `negative_precision`); others unchanged."""
    return CURRENT_NAMES.get(name, name)


def tag_value(tags: Mapping[str, str], name: str) -> float | None:
    """The number a version's tags hold for metric `name` (or for the old tag it replaced);
    None when absent, not a number, or NaN."""
    for key in (name, LEGACY_TAGS.get(name)):
        if key is None or key not in tags:
            continue
        try:
            value = float(tags[key])
        except ValueError:
            return None
        return None if math.isnan(value) else value
    return None
