"""Classical and lexicon models: CV search, fit, then the shared evaluate-log-register step."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import numpy as np

from badbuzz.metric_names import DEFAULT_THRESHOLD
from badbuzz.registry import TrackingTarget
from badbuzz.settings import TrainingSettings
from badbuzz.text import NormalizationConfig
from training.classical.pipelines import (
    MODELS,
    ModelSpec,
    Vectorizer,
    build_pipeline,
    embedding_type,
    normalization_for,
)
from training.classical.search import search_best_params
from training.data.prepared import NormalizedTexts, PreparedData
from training.export.sklearn_bundle import write_sklearn_bundle
from training.tracking.experiments import experiment_name, use_experiment
from training.tracking.runs import TrainedModel, model_run, record

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    models: tuple[str, ...]
    vectorizer: Vectorizer = "tfidf"
    ngram_max: int = 2
    char_ngrams: bool = False
    lexicon_features: bool = True
    normalization: NormalizationConfig = field(default_factory=NormalizationConfig)
    # threshold-free, as the threshold is chosen after the fit; it ranks for the KPI's class
    optimize: str = "positive_average_precision"
    cv_folds: int = 3
    search_sample: int = 20_000
    seed: int = 42
    register: bool = True

    def params(self) -> dict[str, Any]:
        return {
            "vectorizer": self.vectorizer,
            "ngram_max": self.ngram_max,
            "char_ngrams": self.char_ngrams,
            "lexicon_features": self.lexicon_features,
            "optimize": self.optimize,
            "cv_folds": self.cv_folds,
            "search_sample": self.search_sample,
            "seed": self.seed,
        }


def _fit(
    spec: ModelSpec, config: TrainConfig, data: PreparedData, texts: NormalizedTexts
) -> tuple[Any, NormalizationConfig]:
    normalization = normalization_for(spec, config.normalization)
    pipeline = build_pipeline(
        spec,
        config.vectorizer,
        config.ngram_max,
        config.char_ngrams,
        config.lexicon_features,
        config.seed,
    )
    train_texts = texts.get("train", normalization)
    train_labels = data.split.train["label"].to_numpy()
    grid_size = int(np.prod([len(values) for values in spec.param_grid.values()]))
    if grid_size > 1:
        sample = np.random.default_rng(config.seed).permutation(len(train_texts))
        sample = sample[: config.search_sample]
        log.info("%s: searching %d candidates on %d tweets", spec.name, grid_size, len(sample))
        best = search_best_params(
            pipeline,
            spec.param_grid,
            [train_texts[i] for i in sample],
            train_labels[sample],
            config.optimize,
            config.cv_folds,
            config.seed,
        )
        pipeline.set_params(**best)
        mlflow.log_params({f"best_{k.removeprefix('clf__')}": v for k, v in best.items()})
    elif spec.param_grid:
        pipeline.set_params(**{k: v[0] for k, v in spec.param_grid.items()})
    log.info("%s: fitting on %d tweets", spec.name, len(train_texts))
    pipeline.fit(train_texts, train_labels)
    return pipeline, normalization


def train_one(
    spec: ModelSpec,
    config: TrainConfig,
    data: PreparedData,
    texts: NormalizedTexts,
    settings: TrainingSettings,
) -> TrainedModel:
    params = {
        **config.params(),
        **{f"norm_{k}": v for k, v in config.normalization.to_dict().items()},
    }
    emb = embedding_type(spec, config.vectorizer)
    with model_run(spec.name, spec.model_family, emb, data, params) as run:
        pipeline, normalization = _fit(spec, config, data, texts)
        with tempfile.TemporaryDirectory() as tmp:
            # record() replaces the threshold with the one it chooses on validation
            bundle_dir = write_sklearn_bundle(
                Path(tmp) / "bundle", pipeline, normalization, DEFAULT_THRESHOLD
            )
            return record(run, bundle_dir, settings, config.register)


def train_models(
    config: TrainConfig, data: PreparedData, settings: TrainingSettings, target: TrackingTarget
) -> list[TrainedModel]:
    unknown = [name for name in config.models if name not in MODELS]
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}: choose from {sorted(MODELS)}")
    use_experiment(experiment_name(data.data_hash), target)
    texts = NormalizedTexts(data)
    results = []
    for name in config.models:
        results.append(train_one(MODELS[name], config, data, texts, settings))
        log.info(
            "%s: threshold %.3f, test positive precision %.3f, manual accuracy %.3f "
            "(run %s, version %s)",
            name,
            results[-1].threshold,
            results[-1].test["positive_precision"],
            results[-1].manual["accuracy"],
            results[-1].run_id,
            results[-1].version,
        )
    return results
