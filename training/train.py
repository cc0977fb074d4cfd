"""Train, evaluate, log and register one model per run, the same way for every family."""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.tracking import MlflowClient
from mlflow.types import ColSpec, Schema

from training.bundle import write_sklearn_bundle
from training.data import binary, data_hash, read_sentiment140
from training.metrics import SELECTABLE_METRICS, Evaluation, evaluate_scores, three_class_report
from training.models import (
    MODELS,
    ModelSpec,
    Vectorizer,
    build_pipeline,
    embedding_type,
    normalization_for,
)
from training.plots import evaluation_figures
from training.pyfunc import BundlePythonModel, pip_requirements
from training.search import search_best_params
from training.settings import TrainingSettings
from training.sources import DataFile, locate_manual_test, locate_training
from training.split import Split, split_dataset, stratified_sample
from training.text import NormalizationConfig, normalize_many
from training.tracking import TrackingTarget, experiment_name, git_commit, use_experiment

log = logging.getLogger(__name__)

SIGNATURE = ModelSignature(
    inputs=Schema([ColSpec("string", "text")]),
    outputs=Schema([ColSpec("string", "label"), ColSpec("double", "probability_positive")]),
)

INPUT_EXAMPLE = pd.DataFrame({"text": ["@united worst airline ever, they lost my bag"]})


@dataclass(frozen=True)
class TrainConfig:
    models: tuple[str, ...]
    vectorizer: Vectorizer = "tfidf"
    ngram_max: int = 2
    char_ngrams: bool = False
    lexicon_features: bool = True
    normalization: NormalizationConfig = field(default_factory=NormalizationConfig)
    optimize: str = "precision"
    cv_folds: int = 3
    search_sample: int = 20_000
    threshold: float = 0.5
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
            "threshold": self.threshold,
            "seed": self.seed,
        }


@dataclass(frozen=True)
class PreparedData:
    source: DataFile
    manual_source: DataFile
    split: Split
    manual: pd.DataFrame  # with neutral rows (label -1), for the 3-class report
    data_hash: str

    @property
    def manual_binary(self) -> pd.DataFrame:
        return binary(self.manual)


@dataclass(frozen=True)
class TrainedModel:
    name: str
    model_family: str
    embedding_type: str
    run_id: str
    version: str | None
    test: dict[str, float]
    manual: dict[str, float]
    seconds: float


def prepare_data(
    settings: TrainingSettings,
    data: Path | None,
    manual: Path | None,
    sample: int | None,
    seed: int,
) -> PreparedData:
    source = locate_training(settings, data)
    manual_source = locate_manual_test(settings, manual or data)
    frame = read_sentiment140(source.path, member=source.member)
    if sample:
        frame = stratified_sample(frame, sample, seed)
    log.info("read %d tweets from %s", len(frame), source)
    manual_frame = read_sentiment140(
        manual_source.path, member=manual_source.member, keep_neutral=True
    )
    return PreparedData(
        source, manual_source, split_dataset(frame, seed), manual_frame, data_hash(frame)
    )


class NormalizedTexts:
    """Normalises each part of the data once per normalisation config."""

    def __init__(self, data: PreparedData) -> None:
        self._data = data
        self._cache: dict[tuple[str, NormalizationConfig], list[str]] = {}

    def get(self, part: str, config: NormalizationConfig) -> list[str]:
        key = (part, config)
        if key not in self._cache:
            frame = self._data.manual if part == "manual" else getattr(self._data.split, part)
            self._cache[key] = normalize_many(frame["text"], config)
        return self._cache[key]


def _log_evaluation(prefix: str, evaluation: Evaluation) -> None:
    mlflow.log_metrics({f"{prefix}_{k}": v for k, v in evaluation.metrics.items()})
    for name, figure in evaluation_figures(evaluation, prefix).items():
        mlflow.log_figure(figure, f"plots/{prefix}_{name}")


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
    started = time.perf_counter()
    emb = embedding_type(spec, config.vectorizer)
    with mlflow.start_run(run_name=f"{spec.name}-{emb}") as run:
        tags = {
            "model_family": spec.model_family,
            "embedding_type": emb,
            "data_hash": data.data_hash,
            "git_commit": git_commit(),
            "data_source": str(data.source),
        }
        mlflow.set_tags(tags)
        mlflow.log_params(
            {**config.params(), "model": spec.name, "train_rows": len(data.split.train)}
        )
        mlflow.log_params({f"norm_{k}": v for k, v in config.normalization.to_dict().items()})
        pipeline, normalization = _fit(spec, config, data, texts)

        evaluations: dict[str, Evaluation] = {}
        for part in ("validation", "test", "manual"):
            frame = data.manual_binary if part == "manual" else getattr(data.split, part)
            normalized = texts.get(part, normalization)
            if part == "manual":
                p_all = pipeline.predict_proba(normalized)[:, 1]
                mlflow.log_dict(
                    three_class_report(data.manual["polarity"].to_numpy(), p_all, 0.2),
                    "reports/manual_three_class.json",
                )
                p_positive = p_all[data.manual["label"].to_numpy() >= 0]
            else:
                p_positive = pipeline.predict_proba(normalized)[:, 1]
            evaluations[part] = evaluate_scores(
                frame["label"].to_numpy(), p_positive, config.threshold
            )
            _log_evaluation(part, evaluations[part])

        metadata = {
            **tags,
            "model_name": spec.name,
            "run_id": run.info.run_id,
            "metrics": {
                "test": evaluations["test"].metrics,
                "manual": evaluations["manual"].metrics,
            },
        }
        version = _log_model(pipeline, normalization, config, metadata, settings, evaluations)
        seconds = time.perf_counter() - started
        mlflow.log_metric("train_seconds", seconds)
    return TrainedModel(
        spec.name,
        spec.model_family,
        emb,
        run.info.run_id,
        version,
        evaluations["test"].metrics,
        evaluations["manual"].metrics,
        seconds,
    )


def _log_model(
    pipeline: Any,
    normalization: NormalizationConfig,
    config: TrainConfig,
    metadata: dict[str, Any],
    settings: TrainingSettings,
    evaluations: dict[str, Evaluation],
) -> str | None:
    """Log the bundle as a pyfunc model and register it with its metric tags."""
    with tempfile.TemporaryDirectory() as tmp:
        bundle_dir = write_sklearn_bundle(
            Path(tmp) / "bundle", pipeline, normalization, config.threshold, metadata
        )
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=BundlePythonModel(),
            artifacts={"bundle": str(bundle_dir)},
            signature=SIGNATURE,
            input_example=INPUT_EXAMPLE,
            pip_requirements=pip_requirements(),
            registered_model_name=settings.model_name if config.register else None,
        )
    if not config.register:
        return None
    version = str(info.registered_model_version)
    client = MlflowClient()
    tags: dict[str, Any] = {
        "model_family": metadata["model_family"],
        "embedding_type": metadata["embedding_type"],
        "data_hash": metadata["data_hash"],
    }
    for metric in SELECTABLE_METRICS:
        tags[metric] = evaluations["test"].metrics[metric]
        tags[f"manual_{metric}"] = evaluations["manual"].metrics[metric]
    for key, value in tags.items():
        client.set_model_version_tag(settings.model_name, version, key, str(value))
    return version


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
            "%s: test precision %.3f, manual accuracy %.3f (run %s, version %s)",
            name,
            results[-1].test["precision"],
            results[-1].manual["accuracy"],
            results[-1].run_id,
            results[-1].version,
        )
    return results
