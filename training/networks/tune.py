"""Optuna search over a network's main hyper-parameters. Each trial is a nested MLflow run
reporting validation loss per epoch; a median pruner stops trials that fall behind, and the
parent run holds the study's best params."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import keras
import mlflow
import optuna

from badbuzz.registry import TrackingTarget
from training.data.prepared import PreparedData
from training.networks.fit import DeepConfig, DeepInputs, fit_network, prepare_inputs
from training.tracking.experiments import experiment_name, use_experiment

log = logging.getLogger(__name__)

MAX_LEN_CHOICES = (24, 32, 48)


@dataclass(frozen=True)
class TuneConfig:
    trials: int = 20
    timeout: int | None = None  # seconds after which no new trial starts
    tune_max_len: bool = False
    startup_trials: int = 3  # never pruned: the median needs something to compare with
    warmup_epochs: int = 1  # epochs every trial runs before it can be pruned


@dataclass(frozen=True)
class StudyResult:
    run_id: str
    best_params: dict[str, Any]
    best_value: float
    complete: int
    pruned: int

    def best_config(self, base: DeepConfig) -> DeepConfig:
        return apply_params(base, self.best_params)


def suggest(trial: optuna.Trial, tune_max_len: bool) -> dict[str, Any]:
    params: dict[str, Any] = {
        "units": trial.suggest_categorical("units", [32, 64, 128]),
        "dropout": trial.suggest_float("dropout", 0.1, 0.5),
        "learning_rate": trial.suggest_float("learning_rate", 3e-4, 1e-2, log=True),
        "trainable_embedding": trial.suggest_categorical("trainable_embedding", [True, False]),
        "batch_size": trial.suggest_categorical("batch_size", [64, 128, 256]),
    }
    if tune_max_len:
        params["max_len"] = trial.suggest_categorical("max_len", list(MAX_LEN_CHOICES))
    return params


def apply_params(base: DeepConfig, params: dict[str, Any]) -> DeepConfig:
    network_fields = {"units", "dropout", "learning_rate", "trainable_embedding"}
    network = replace(base.network, **{k: v for k, v in params.items() if k in network_fields})
    rest = {k: v for k, v in params.items() if k in ("batch_size", "max_len")}
    return replace(base, network=network, **rest)


def with_max_len(inputs: DeepInputs, max_len: int) -> DeepInputs:
    """Ids padded and truncated at the end: cutting columns equals encoding shorter."""
    if max_len > inputs.vocabulary.max_len:
        raise ValueError(f"encoded with {inputs.vocabulary.max_len} tokens, asked for {max_len}")
    return replace(
        inputs,
        vocabulary=inputs.vocabulary.with_max_len(max_len),
        x_train=inputs.x_train[:, :max_len],
        x_val=inputs.x_val[:, :max_len],
        parity_ids=inputs.parity_ids[:, :max_len],
    )


class PruneOnValLoss(keras.callbacks.Callback):
    """Reports validation loss to the trial each epoch; stops training once pruned."""

    def __init__(self, trial: optuna.Trial) -> None:
        super().__init__()
        self.trial = trial
        self.pruned = False

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        self.trial.report(float((logs or {})["val_loss"]), step=epoch)
        if self.trial.should_prune():
            self.pruned = True
            self.model.stop_training = True


def _objective(
    trial: optuna.Trial, base: DeepConfig, inputs: DeepInputs, config: TuneConfig
) -> float:
    params = suggest(trial, config.tune_max_len)
    deep = apply_params(base, params)
    trial_inputs = with_max_len(inputs, deep.max_len)
    # Not `with start_run`: ending a pruned trial as KILLED must not end the parent run.
    mlflow.start_run(run_name=f"trial-{trial.number}", nested=True)
    status = "FAILED"
    try:
        mlflow.log_params({**params, "trial": trial.number})
        pruning = PruneOnValLoss(trial)
        _, history = fit_network(deep.network, deep, trial_inputs, [pruning])
        best = min(history["val_loss"])
        mlflow.log_metrics({"best_val_loss": best, "epochs_run": len(history["val_loss"])})
        if pruning.pruned:
            status = "KILLED"
            mlflow.set_tag("optuna_state", "pruned")
            log.info("trial %d pruned after %d epochs", trial.number, len(history["val_loss"]))
            raise optuna.TrialPruned()
        status = "FINISHED"
        mlflow.set_tag("optuna_state", "complete")
        log.info("trial %d: best val_loss %.4f with %s", trial.number, best, params)
        return best
    finally:
        mlflow.end_run(status=status)
        keras.backend.clear_session()  # each trial builds a new graph; free the last one


def run_study(
    config: TuneConfig, base: DeepConfig, data: PreparedData, target: TrackingTarget
) -> StudyResult:
    """Minimise validation loss of `base.architectures[0]` over `config.trials` trials."""
    use_experiment(experiment_name(data.data_hash), target)
    architecture = base.architectures[0]
    encode_len = max(MAX_LEN_CHOICES) if config.tune_max_len else base.max_len
    inputs = prepare_inputs(replace(base, max_len=encode_len), data)
    study = optuna.create_study(
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=base.seed),
        pruner=optuna.pruners.MedianPruner(
            n_startup_trials=config.startup_trials, n_warmup_steps=config.warmup_epochs
        ),
        study_name=f"{architecture}-{base.embedding}",
    )
    with mlflow.start_run(run_name=f"tune-{architecture}-{base.embedding}") as parent:
        mlflow.set_tags(
            {
                "stage": "tune",
                "model_family": architecture,
                "embedding_type": base.embedding,
                "data_hash": data.data_hash,
            }
        )
        mlflow.log_params(
            {
                **base.params(),
                "architecture": architecture,
                "trials": config.trials,
                "timeout": config.timeout,
                "tune_max_len": config.tune_max_len,
                "pruner": "median",
                "pruner_startup_trials": config.startup_trials,
                "pruner_warmup_epochs": config.warmup_epochs,
            }
        )
        study.optimize(
            lambda trial: _objective(trial, base, inputs, config),
            n_trials=config.trials,
            timeout=config.timeout,
        )
        states = [trial.state for trial in study.trials]
        complete = states.count(optuna.trial.TrialState.COMPLETE)
        pruned = states.count(optuna.trial.TrialState.PRUNED)
        if not complete:
            raise RuntimeError(f"no trial of {len(states)} completed; raise --trials or --timeout")
        mlflow.log_params({f"best_{k}": v for k, v in study.best_params.items()})
        mlflow.log_metrics(
            {
                "best_val_loss": study.best_value,
                "trials_complete": complete,
                "trials_pruned": pruned,
            }
        )
        with tempfile.TemporaryDirectory() as tmp:
            table = Path(tmp) / "trials.csv"
            study.trials_dataframe().to_csv(table, index=False)
            mlflow.log_artifact(str(table), artifact_path="study")
        return StudyResult(
            parent.info.run_id, dict(study.best_params), study.best_value, complete, pruned
        )
