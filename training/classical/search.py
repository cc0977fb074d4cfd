"""Hyper-parameter search with cross-validation; each candidate becomes a nested MLflow run."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import mlflow
import numpy as np
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline

from badbuzz.metric_names import DEFAULT_THRESHOLD, SELECTABLE_METRICS
from training.evaluation.metrics import evaluate_scores

log = logging.getLogger(__name__)


def _score(estimator: Any, texts: Sequence[str], y: np.ndarray, metric: str) -> float:
    p_positive = estimator.predict_proba(texts)[:, 1]
    return evaluate_scores(y, p_positive, DEFAULT_THRESHOLD).metrics[metric]


def scorer_for(metric: str) -> Callable[..., float]:
    """A scikit-learn scorer for `metric`, computed as the run's metrics are (at 0.5: the
    threshold is chosen after the search)."""
    if metric not in SELECTABLE_METRICS:
        raise ValueError(f"cannot optimise {metric!r}: choose one of {SELECTABLE_METRICS}")
    return partial(_score, metric=metric)  # a partial of a module function: picklable


def search_best_params(
    pipeline: Pipeline,
    param_grid: dict[str, list[Any]],
    texts: Sequence[str],
    labels: np.ndarray,
    metric: str,
    folds: int,
    seed: int,
) -> dict[str, Any]:
    """Grid search; logs one nested run per candidate and returns the best parameters."""
    search = GridSearchCV(
        pipeline,
        param_grid,
        scoring=scorer_for(metric),
        cv=StratifiedKFold(folds, shuffle=True, random_state=seed),
        n_jobs=-1,
        refit=False,
    )
    search.fit(list(texts), labels)
    results = search.cv_results_
    for index, params in enumerate(results["params"]):
        with mlflow.start_run(run_name=f"candidate-{index}", nested=True):
            mlflow.log_params({key.removeprefix("clf__"): value for key, value in params.items()})
            mlflow.log_metrics(
                {
                    f"cv_{metric}_mean": float(results["mean_test_score"][index]),
                    f"cv_{metric}_std": float(results["std_test_score"][index]),
                    "cv_fit_seconds": float(results["mean_fit_time"][index]),
                }
            )
            mlflow.set_tag("rank", int(results["rank_test_score"][index]))
    log.info("best %s %.4f with %s", metric, search.best_score_, search.best_params_)
    return dict(search.best_params_)
