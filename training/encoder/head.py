"""A frozen sentence encoder with a logistic-regression head: embed the training split once
(PyTorch), fit the head (scikit-learn), export encoder + pooling + head to one ONNX graph,
check it against PyTorch + scikit-learn, then the shared evaluate-log-register step."""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from badbuzz.bundle.runtimes.onnx import MODEL_FILE
from badbuzz.registry import TrackingTarget
from badbuzz.settings import TrainingSettings
from badbuzz.text import normalize_many
from training.data.prepared import PreparedData
from training.encoder.model import SentenceClassifier, SentenceEncoder, load_encoder
from training.export.onnx import (
    QUANTIZED_MODEL_FILE,
    ExportReport,
    export_onnx,
    write_checked_onnx_bundle,
)
from training.tracking.experiments import experiment_name, use_experiment
from training.tracking.runs import TrainedModel, model_run, record
from training.transformer.checkpoint import (
    CheckpointModelConfig,
    check_max_len,
    default_checkpoint,
    embedding_type_for,
    run_in_batches,
)

log = logging.getLogger(__name__)

MODEL_FAMILY = "encoder_logreg"
POOLING = "mean"


@dataclass(frozen=True)
class EncoderConfig(CheckpointModelConfig):
    """embedding_type None: "<checkpoint kind>-mean", e.g. minilm-mean."""

    batch_size: int = 64  # tweets per encoder forward pass
    c: float = 1.0  # inverse regularisation strength of the head (tuned on real tweets)
    max_iter: int = 1_000

    def params(self) -> dict[str, Any]:
        return {
            **super().params(),
            "pooling": POOLING,
            "head": "logistic_regression",
            "head_c": self.c,
            "head_max_iter": self.max_iter,
        }


def embed(
    encoder: SentenceEncoder,
    tokenizer: Any,
    texts: Sequence[str],
    config: EncoderConfig,
    device: torch.device | None = None,
    progress: str | None = None,
) -> np.ndarray:
    """Unit-length sentence embeddings of raw tweets (normalised here), in input order."""
    normalized = normalize_many(texts, config.normalization)
    return run_in_batches(
        encoder, tokenizer, normalized, config.max_len, config.batch_size, device, progress
    )


def fit_head(
    embeddings: np.ndarray, labels: np.ndarray, config: EncoderConfig
) -> LogisticRegression:
    head = LogisticRegression(C=config.c, max_iter=config.max_iter, random_state=config.seed)
    return head.fit(embeddings, labels)


def probability_positive(head: LogisticRegression, embeddings: np.ndarray) -> np.ndarray:
    return np.asarray(head.predict_proba(embeddings)[:, list(head.classes_).index(1)])


def build_bundle(
    encoder: SentenceEncoder,
    tokenizer: Any,
    head: LogisticRegression,
    directory: Path,
    config: EncoderConfig,
    parity_texts: Sequence[str],
    parity_labels: np.ndarray,
    metadata: dict[str, Any] | None = None,
) -> ExportReport:
    """Export encoder + pooling + head as one ONNX graph and bundle it once it scores the
    parity tweets like PyTorch embeddings through the scikit-learn head."""
    classifier = SentenceClassifier(encoder, head.coef_[0], float(head.intercept_[0]))
    reference = probability_positive(
        head, embed(encoder, tokenizer, parity_texts, config, torch.device("cpu"))
    )
    with tempfile.TemporaryDirectory(prefix="onnx-export-") as tmp:
        onnx_path = export_onnx(classifier, tokenizer.model_input_names, Path(tmp) / MODEL_FILE)
        return write_checked_onnx_bundle(
            directory,
            onnx_path,
            tokenizer,
            config.bundle_options(),
            parity_texts,
            reference,
            parity_labels,
            metadata,
            reference_name="PyTorch + scikit-learn",
        )


def train_encoder(
    config: EncoderConfig,
    data: PreparedData,
    settings: TrainingSettings,
    target: TrackingTarget,
) -> TrainedModel:
    """Embed the training split, fit the head, export and check; log, evaluate (through the
    bundle) and register."""
    use_experiment(experiment_name(data.data_hash), target)
    if config.threads:
        torch.set_num_threads(config.threads)
    checkpoint = config.checkpoint or str(default_checkpoint())
    encoder, tokenizer = load_encoder(checkpoint)
    check_max_len(encoder.transformer, tokenizer, config.max_len)
    embedding = config.embedding_type or (
        f"{embedding_type_for(checkpoint, encoder.config.model_type)}-{POOLING}"
    )
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    split = data.split
    parity = split.validation.head(config.parity_sample)
    with model_run("encoder", MODEL_FAMILY, embedding, data, config.params()) as run:
        mlflow.set_tag("device", str(device))
        log.info(
            "embedding %d tweets with %s (%s) on %s",
            len(split.train),
            checkpoint,
            embedding,
            device,
        )
        started = time.perf_counter()
        embeddings = embed(
            encoder.to(device), tokenizer, split.train["text"].tolist(), config, device, "embed"
        )
        seconds = time.perf_counter() - started
        encoder.to("cpu")
        labels = split.train["label"].to_numpy()
        head = fit_head(embeddings, labels, config)
        train_accuracy = float(head.score(embeddings, labels))
        log.info("head fitted: training accuracy %.4f", train_accuracy)
        mlflow.log_metrics(
            {
                "embed_seconds": seconds,
                "embed_tweets_per_second": len(embeddings) / seconds,
                "head_train_accuracy": train_accuracy,
            }
        )
        with tempfile.TemporaryDirectory() as tmp:
            report = build_bundle(
                encoder,
                tokenizer,
                head,
                Path(tmp) / "bundle",
                config,
                parity["text"].tolist(),
                parity["label"].to_numpy(),
                {
                    "checkpoint": checkpoint,
                    "base_model_type": encoder.config.model_type,
                    "pooling": POOLING,
                    "head": "logistic_regression",
                },
            )
            mlflow.log_metrics(report.metrics())
            model_file = report.bundle_dir / (
                QUANTIZED_MODEL_FILE if config.quantize else MODEL_FILE
            )
            mlflow.log_metric("onnx_model_bytes", model_file.stat().st_size)
            runtime = settings.runtime_options(config.onnx_threads)
            return record(run, report.bundle_dir, settings, config.register, runtime)
