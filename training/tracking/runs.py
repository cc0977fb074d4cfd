"""What every model family does once its bundle is written, inside its MLflow run:
score the *bundle* (the serving path, so no train/serve skew) on the validation, held-out
and manual test sets (and the client's export, given one), choose its decision threshold on
the validation scores, log metrics and plots, sign the bundle's manifest (BADBUZZ_SIGNING_KEY),
log the bundle as a pyfunc model and register it with its metric tags."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.tracking import MlflowClient
from mlflow.types import ColSpec, Schema

from badbuzz.bundle.manifest import DriftReference, Manifest
from badbuzz.bundle.model import ModelBundle, RuntimeOptions
from badbuzz.bundle.signing import load_signing_key, sign_bundle
from badbuzz.metric_names import CLIENT_ONLY, CLIENT_PREFIX, MANUAL_PREFIX, SELECTABLE_METRICS
from badbuzz.settings import TrainingSettings
from training.data.client import ClientData
from training.data.prepared import PreparedData
from training.evaluation.metrics import (
    Evaluation,
    client_metrics,
    evaluate_scores,
    three_class_report,
)
from training.evaluation.neutral import BAND_HIGH, BAND_LOW, band_metrics, choose_neutral_band
from training.evaluation.plots import evaluation_figures
from training.evaluation.thresholds import ACCURACY_TOLERANCE, RULE, choose_threshold
from training.tracking.experiments import git_commit
from training.tracking.pyfunc import BundlePythonModel, pip_requirements

log = logging.getLogger(__name__)

NEUTRAL_BAND = 0.2
SIGNATURE = ModelSignature(
    inputs=Schema([ColSpec("string", "text")]),
    outputs=Schema([ColSpec("string", "label"), ColSpec("double", "probability_positive")]),
)
INPUT_EXAMPLE = pd.DataFrame({"text": ["@united worst airline ever, they lost my bag"]})


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
    threshold: float  # chosen on the validation split; the bundle applies it
    client: dict[str, float] | None = None  # on the client's export (--eval-data)


@dataclass
class ModelRun:
    """An open MLflow run for one model; `record` finishes it."""

    name: str
    model_family: str
    embedding_type: str
    data: PreparedData
    run_id: str
    started: float

    @property
    def tags(self) -> dict[str, str]:
        return {
            "model_family": self.model_family,
            "embedding_type": self.embedding_type,
            "data_hash": self.data.data_hash,
            "git_commit": git_commit(),
            "data_source": str(self.data.source),
        }


@contextmanager
def model_run(
    name: str, model_family: str, embedding_type: str, data: PreparedData, params: dict[str, Any]
) -> Iterator[ModelRun]:
    """Start the MLflow run of one model with the standard tags and the given params."""
    with mlflow.start_run(run_name=f"{name}-{embedding_type}") as run:
        model = ModelRun(
            name, model_family, embedding_type, data, run.info.run_id, time.perf_counter()
        )
        mlflow.set_tags(model.tags)
        # data_rows (sampled tweets, before the split) lets `badbuzz retrain` rebuild the data
        rows = sum(len(part) for part in (data.split.train, data.split.validation, data.split.test))
        mlflow.log_params(
            {**params, "model": name, "train_rows": len(data.split.train), "data_rows": rows}
        )
        yield model


@dataclass(frozen=True)
class BundleEvaluation:
    threshold: float
    parts: dict[str, Evaluation]  # validation, test, manual
    client: dict[str, float] | None  # the client's export: binary metrics, neutral shares


def evaluate_bundle(
    bundle: ModelBundle, data: PreparedData, threshold: float | None = None
) -> BundleEvaluation:
    """Score the raw tweets of each part through the bundle, choose the threshold on the
    validation scores (unless one is given, chosen elsewhere); log it, the metrics at it and
    at 0.5, plots and the manual set's 3-class report."""
    scored: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for part in ("validation", "test", "manual"):
        frame = data.manual if part == "manual" else getattr(data.split, part)
        p_positive = bundle.predict_proba(frame["text"].tolist())
        if part == "manual":
            report = three_class_report(frame["polarity"].to_numpy(), p_positive, NEUTRAL_BAND)
            mlflow.log_dict(report, "reports/manual_three_class.json")
            binary_rows = frame["label"].to_numpy() >= 0
            frame, p_positive = frame[binary_rows], p_positive[binary_rows]
        scored[part] = (frame["label"].to_numpy(), p_positive)
    if threshold is None:
        threshold = choose_threshold(*scored["validation"])
    mlflow.log_params({"threshold_rule": RULE, "threshold_accuracy_tolerance": ACCURACY_TOLERANCE})
    mlflow.log_metric("threshold", threshold)
    evaluations: dict[str, Evaluation] = {}
    for part, (labels, p_positive) in scored.items():
        evaluation = evaluate_scores(labels, p_positive, threshold)
        mlflow.log_metrics({f"{part}_{k}": v for k, v in evaluation.metrics.items()})
        for file_name, figure in evaluation_figures(evaluation, part).items():
            mlflow.log_figure(figure, f"plots/{part}_{file_name}")
        evaluations[part] = evaluation
    return BundleEvaluation(threshold, evaluations, evaluate_client(bundle, data, threshold))


def evaluate_client(
    bundle: ModelBundle, data: PreparedData, threshold: float
) -> dict[str, float] | None:
    """The client's export scored through the bundle at its threshold, logged as `client_*`
    metrics with the export's name, columns and hash as params; None without one."""
    if data.client is None:
        return None
    client = data.client
    p_positive = bundle.predict_proba(client.frame["text"].tolist())
    metrics = client_metrics(client.labels, p_positive, threshold)
    band = choose_neutral_band(client.labels, p_positive, threshold)
    if band is not None:
        metrics |= band_metrics(client.labels, p_positive, threshold, band)
        metrics |= {BAND_LOW: band[0], BAND_HIGH: band[1]}
    mlflow.log_params(
        {
            "client_data": str(client.source.path),
            "client_text_column": client.source.text_column,
            "client_label_column": client.source.label_column,
            "client_data_hash": client.data_hash,
            "client_rows": len(client.frame),
        }
    )
    mlflow.log_metrics({f"{CLIENT_PREFIX}{k}": v for k, v in metrics.items()})
    return metrics


def neutral_band_only(
    bundle: ModelBundle, client: ClientData, threshold: float
) -> list[float] | None:
    """A neutral band chosen on a client's labelled tweets that this model is not judged on
    (a retrained challenger: its verdicts may be those tweets), logged as params only, so
    no `client_*` metric flatters it in a ranking."""
    p_positive = bundle.predict_proba(client.frame["text"].tolist())
    band = choose_neutral_band(client.labels, p_positive, threshold)
    if band is None:
        return None
    mlflow.log_params(
        {"neutral_band_data": str(client.source.path), BAND_LOW: band[0], BAND_HIGH: band[1]}
    )
    return [band[0], band[1]]


def served_band(
    bundle: ModelBundle,
    manifest: Manifest,
    evaluated: BundleEvaluation,
    band_source: ClientData | None,
) -> list[float] | None:
    """The neutral band the bundle serves: none where it has a neutral head (the head
    decides), the one chosen on its client export, else one chosen on `band_source`."""
    if manifest.neutral_head is not None:
        return None
    if evaluated.client is not None and BAND_LOW in evaluated.client:
        return [evaluated.client[BAND_LOW], evaluated.client[BAND_HIGH]]
    if band_source is not None:
        return neutral_band_only(bundle, band_source, evaluated.threshold)
    return None


def sign(bundle_dir: Path, settings: TrainingSettings) -> None:
    """Sign the bundle's final manifest with BADBUZZ_SIGNING_KEY, or say it stays unsigned."""
    if settings.signing_key is None:
        _warn_unsigned()
        return
    sign_bundle(bundle_dir, load_signing_key(settings.signing_key))


@functools.cache
def _warn_unsigned() -> None:
    log.warning(
        "bundles are logged unsigned (no BADBUZZ_SIGNING_KEY): an API in production, or with "
        "BADBUZZ_VERIFY_KEY set, refuses them. Create a key pair with `badbuzz keys create`"
    )


def record(
    run: ModelRun,
    bundle_dir: Path,
    settings: TrainingSettings,
    register: bool,
    runtime: RuntimeOptions | None = None,
    threshold: float | None = None,
    band_source: ClientData | None = None,
) -> TrainedModel:
    """Evaluate the bundle (loaded with `runtime`, default: the settings'), store the
    threshold (`threshold`, else chosen on validation), its metrics and the drift reference (the
    validation scores' distribution and negative share at the threshold) in its manifest, sign
    it (BADBUZZ_SIGNING_KEY), log it as a pyfunc model and register it (tags: family, embedding
    type, data hash, threshold, held-out and manual metrics)."""
    bundle = ModelBundle.load(bundle_dir, runtime or settings.runtime_options())
    evaluated = evaluate_bundle(bundle, run.data, threshold)
    evaluations = evaluated.parts
    manifest = Manifest.read(bundle_dir)
    manifest.threshold = evaluated.threshold
    manifest.neutral_band = served_band(bundle, manifest, evaluated, band_source)
    validation = evaluations["validation"]
    manifest.drift_reference = DriftReference.from_scores(
        validation.p_positive, evaluated.threshold
    ).to_dict()
    manifest.metadata.update(
        run.tags,
        model_name=run.name,
        run_id=run.run_id,
        metrics={
            **{part: evaluations[part].metrics for part in ("test", "manual")},
            **({"client": evaluated.client} if evaluated.client else {}),
        },
        threshold_rule=RULE,
    )
    manifest.write(bundle_dir)
    sign(bundle_dir, settings)
    info = mlflow.pyfunc.log_model(
        name="model",
        python_model=BundlePythonModel(),
        artifacts={"bundle": str(bundle_dir)},
        signature=SIGNATURE,
        input_example=INPUT_EXAMPLE,
        pip_requirements=pip_requirements(manifest.runtime, manifest.neutral_head is not None),
        registered_model_name=settings.model_name if register else None,
    )
    version = str(info.registered_model_version) if register else None
    if version is not None:
        tags: dict[str, str] = {
            "model_family": run.model_family,
            "embedding_type": run.embedding_type,
            "data_hash": run.data.data_hash,
            "threshold": str(evaluated.threshold),
        }
        for metric in SELECTABLE_METRICS:
            tags[metric] = str(evaluations["test"].metrics[metric])
            tags[f"{MANUAL_PREFIX}{metric}"] = str(evaluations["manual"].metrics[metric])
        if evaluated.client is not None:
            for metric in (*SELECTABLE_METRICS, *CLIENT_ONLY):
                tags[f"{CLIENT_PREFIX}{metric}"] = str(evaluated.client[metric])
        client = MlflowClient()
        for key, value in tags.items():
            client.set_model_version_tag(settings.model_name, version, key, value)
    seconds = time.perf_counter() - run.started
    mlflow.log_metric("train_seconds", seconds)
    return TrainedModel(
        run.name,
        run.model_family,
        run.embedding_type,
        run.run_id,
        version,
        evaluations["test"].metrics,
        evaluations["manual"].metrics,
        seconds,
        evaluated.threshold,
        evaluated.client,
    )
