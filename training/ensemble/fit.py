"""`badbuzz train ensemble`: the `ensemble` recipe of `badbuzz retrain` (the mean P(positive)
of a logistic head on the frozen MiniLM's embeddings and of TF-IDF + VADER + logistic
regression) fitted on Sentiment140 alone, then the shared evaluate-log-register step. It is
the model the client gets before any verdict: on real airline tweets it beats each member
(README "Which recipe learns the client best"); its embeddings go to the cache a later
`badbuzz retrain` reads."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from badbuzz.registry import TrackingTarget
from badbuzz.settings import TrainingSettings
from training.data.prepared import PreparedData
from training.encoder.head import EncoderConfig
from training.feedback.ensemble_recipe import ensemble_recipe
from training.feedback.fitting import Features
from training.tracking.experiments import experiment_name, use_experiment
from training.tracking.runs import TrainedModel, model_run, record

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EnsembleConfig:
    encoder: EncoderConfig
    register: bool = True


def train_ensemble(
    config: EnsembleConfig, data: PreparedData, settings: TrainingSettings, target: TrackingTarget
) -> TrainedModel:
    use_experiment(experiment_name(data.data_hash), target)
    # no verdicts here: the weight is unused
    recipe = ensemble_recipe(settings.data_cache_dir / "embeddings", config.encoder, 1.0)
    split = data.split
    with model_run(
        "ensemble", recipe.model_family, recipe.embedding_type, data, recipe.params()
    ) as run:
        log.info("features of %d tweets (embeddings cached per tweet)", len(split.train))
        base = recipe.features(split.train["text"].tolist(), progress="embed")
        fitted = recipe.fit(
            Features(base, split.train["label"].to_numpy(), base[:0], np.zeros(0, int), 1.0)
        )
        parity = split.validation.head(config.encoder.parity_sample)
        with tempfile.TemporaryDirectory() as tmp:
            bundle_dir = recipe.write_bundle(
                fitted,
                Path(tmp) / "bundle",
                parity["text"].tolist(),
                parity["label"].to_numpy(),
            )
            runtime = settings.runtime_options(recipe.onnx_threads)
            return record(run, bundle_dir, settings, config.register, runtime)
