"""Fine-tuned transformer classifiers: fit in PyTorch, export to ONNX, check the export
against PyTorch, then the shared evaluate-log-register step. What they share with the frozen
encoder (the checkpoint, its config, batched inference) is in `checkpoint`."""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import torch
from tqdm.auto import tqdm

from badbuzz.bundle.runtimes.onnx import MODEL_FILE
from badbuzz.errors import CheckpointError
from badbuzz.registry import TrackingTarget
from badbuzz.settings import TrainingSettings
from badbuzz.text import normalize_many
from training.data.prepared import PreparedData
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
    collate,
    default_checkpoint,
    embedding_type_for,
    encode_texts,
    run_in_batches,
)

log = logging.getLogger(__name__)

LABELS = {0: "negative", 1: "positive"}

LogMetrics = Callable[[dict[str, float], int], object]


@dataclass(frozen=True)
class TransformerConfig(CheckpointModelConfig):
    epochs: int = 1
    batch_size: int = 32
    learning_rate: float = 5e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    monitor_sample: int = 5_000  # validation tweets scored after each epoch
    log_every: int = 50  # steps between train_loss points

    def params(self) -> dict[str, Any]:
        return {
            **super().params(),
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "learning_rate": self.learning_rate,
            "weight_decay": self.weight_decay,
            "warmup_ratio": self.warmup_ratio,
        }


@dataclass(frozen=True)
class EpochStats:
    epoch: int
    train_loss: float
    validation_loss: float
    validation_accuracy: float
    seconds: float
    tweets_per_second: float


def load_checkpoint(checkpoint: str) -> tuple[Any, Any]:
    """A two-label sequence classifier (new head) and its fast tokenizer."""
    import transformers
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    # The classifier head is new by design; the load report saying so is noise here.
    transformers.logging.set_verbosity_error()
    try:
        tokenizer = AutoTokenizer.from_pretrained(checkpoint)
        model = AutoModelForSequenceClassification.from_pretrained(
            checkpoint,
            num_labels=2,
            id2label=LABELS,
            label2id={v: k for k, v in LABELS.items()},
        )
    except OSError as error:
        raise CheckpointError(f"cannot load checkpoint {checkpoint!r}: {error}") from error
    if getattr(tokenizer, "backend_tokenizer", None) is None:
        raise CheckpointError(f"{checkpoint!r} has no fast tokenizer (tokenizer.json) to export")
    return model, tokenizer


def _training_batch(tokenizer: Any, rows: Sequence[tuple[np.ndarray, int]]) -> dict[str, Any]:
    batch = collate(tokenizer, [ids for ids, _ in rows])
    batch["labels"] = torch.tensor([label for _, label in rows])
    return batch


def predict_logits(
    model: Any,
    tokenizer: Any,
    texts: Sequence[str],
    max_len: int,
    batch_size: int = 128,
    device: torch.device | None = None,
) -> np.ndarray:
    """Logits (one row of 2 per text) of a sequence classifier for normalised texts."""
    return run_in_batches(model, tokenizer, texts, max_len, batch_size, device)


def probability_positive(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return np.asarray(exp[:, 1] / exp.sum(axis=1))


def _validate(
    model: Any,
    tokenizer: Any,
    texts: Sequence[str],
    labels: np.ndarray,
    config: TransformerConfig,
    device: torch.device,
) -> tuple[float, float]:
    logits = predict_logits(model, tokenizer, texts, config.max_len, 4 * config.batch_size, device)
    loss = torch.nn.functional.cross_entropy(torch.from_numpy(logits), torch.from_numpy(labels))
    accuracy = float((logits.argmax(axis=1) == labels).mean())
    return float(loss), accuracy


def fine_tune(
    model: Any,
    tokenizer: Any,
    train_texts: Sequence[str],
    train_labels: np.ndarray,
    validation_texts: Sequence[str],
    validation_labels: np.ndarray,
    config: TransformerConfig,
    device: torch.device,
    log_metrics: LogMetrics | None = None,
) -> list[EpochStats]:
    """AdamW with linear warmup then decay; validation loss/accuracy after each epoch."""
    from transformers import get_linear_schedule_with_warmup

    ids = encode_texts(tokenizer, train_texts, config.max_len)
    rows = list(zip(ids, np.asarray(train_labels, dtype=np.int64).tolist(), strict=True))
    loader: torch.utils.data.DataLoader[dict[str, torch.Tensor]] = torch.utils.data.DataLoader(
        rows,  # type: ignore[arg-type]  # a list is a map-style dataset
        batch_size=config.batch_size,
        shuffle=True,
        collate_fn=lambda batch: _training_batch(tokenizer, batch),
        generator=torch.Generator().manual_seed(config.seed),
    )
    model.to(device)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    total_steps = max(1, config.epochs * len(loader))
    scheduler = get_linear_schedule_with_warmup(
        optimizer, int(config.warmup_ratio * total_steps), total_steps
    )
    validation_labels = np.asarray(validation_labels, dtype=np.int64)
    history: list[EpochStats] = []
    step = 0
    for epoch in range(1, config.epochs + 1):
        model.train()
        started, epoch_loss, window_loss = time.perf_counter(), 0.0, 0.0
        progress = tqdm(loader, desc=f"epoch {epoch}/{config.epochs}", unit="batch")
        for batch in progress:
            loss = model(**{k: v.to(device) for k, v in batch.items()}).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            epoch_loss += loss.item()
            window_loss += loss.item()
            if step % config.log_every == 0:
                progress.set_postfix(loss=f"{window_loss / config.log_every:.4f}")
                if log_metrics:
                    log_metrics(
                        {
                            "train_loss": window_loss / config.log_every,
                            "learning_rate": scheduler.get_last_lr()[0],
                        },
                        step,
                    )
                window_loss = 0.0
        seconds = time.perf_counter() - started
        validation_loss, validation_accuracy = _validate(
            model, tokenizer, validation_texts, validation_labels, config, device
        )
        stats = EpochStats(
            epoch,
            epoch_loss / max(1, len(loader)),
            validation_loss,
            validation_accuracy,
            seconds,
            len(rows) / seconds,
        )
        history.append(stats)
        _report_epoch(stats, config.epochs, device, log_metrics)
    return history


def _report_epoch(
    stats: EpochStats, epochs: int, device: torch.device, log_metrics: LogMetrics | None
) -> None:
    """An epoch's losses, accuracy and speed: logged, and sent to `log_metrics` if given."""
    log.info(
        "epoch %d/%d: train loss %.4f, validation loss %.4f, accuracy %.4f "
        "(%.0f s, %.1f tweets/s on %s)",
        stats.epoch,
        epochs,
        stats.train_loss,
        stats.validation_loss,
        stats.validation_accuracy,
        stats.seconds,
        stats.tweets_per_second,
        device,
    )
    if log_metrics:
        log_metrics(
            {
                "epoch_train_loss": stats.train_loss,
                "epoch_validation_loss": stats.validation_loss,
                "epoch_validation_accuracy": stats.validation_accuracy,
                "epoch_seconds": stats.seconds,
                "train_tweets_per_second": stats.tweets_per_second,
            },
            stats.epoch,
        )


def build_bundle(
    model: Any,
    tokenizer: Any,
    directory: Path,
    config: TransformerConfig,
    parity_texts: Sequence[str],
    parity_labels: np.ndarray,
    metadata: dict[str, Any] | None = None,
) -> ExportReport:
    """Export to ONNX and bundle it once it scores the parity tweets like PyTorch
    (`write_checked_onnx_bundle`)."""
    with tempfile.TemporaryDirectory(prefix="onnx-export-") as tmp:
        onnx_path = export_onnx(model, tokenizer.model_input_names, Path(tmp) / MODEL_FILE)
        reference = probability_positive(
            predict_logits(
                model,
                tokenizer,
                normalize_many(parity_texts, config.normalization),
                config.max_len,
                device=torch.device("cpu"),
            )
        )
        return write_checked_onnx_bundle(
            directory,
            onnx_path,
            tokenizer,
            config.bundle_options(),
            parity_texts,
            reference,
            parity_labels,
            metadata,
        )


def train_transformer(
    config: TransformerConfig,
    data: PreparedData,
    settings: TrainingSettings,
    target: TrackingTarget,
) -> TrainedModel:
    """Fine-tune, export and check; log, evaluate (through the bundle) and register."""
    use_experiment(experiment_name(data.data_hash), target)
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)  # the new classifier head's initialisation
    checkpoint = config.checkpoint or str(default_checkpoint())
    model, tokenizer = load_checkpoint(checkpoint)
    check_max_len(model, tokenizer, config.max_len)
    embedding = config.embedding_type or embedding_type_for(checkpoint, model.config.model_type)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    norm = config.normalization
    split = data.split
    monitor = split.validation.head(config.monitor_sample)
    parity = split.validation.head(config.parity_sample)
    with model_run("transformer", "transformer", embedding, data, config.params()) as run:
        mlflow.set_tag("device", str(device))
        log.info(
            "fine-tuning %s (%s) on %d tweets, %d epoch(s), on %s",
            checkpoint,
            embedding,
            len(split.train),
            config.epochs,
            device,
        )
        fine_tune(
            model,
            tokenizer,
            normalize_many(split.train["text"], norm),
            split.train["label"].to_numpy(),
            normalize_many(monitor["text"], norm),
            monitor["label"].to_numpy(),
            config,
            device,
            log_metrics=lambda metrics, step: mlflow.log_metrics(metrics, step=step),
        )
        with tempfile.TemporaryDirectory() as tmp:
            report = build_bundle(
                model,
                tokenizer,
                Path(tmp) / "bundle",
                config,
                parity["text"].tolist(),
                parity["label"].to_numpy(),
                {"checkpoint": checkpoint, "base_model_type": model.config.model_type},
            )
            mlflow.log_metrics(report.metrics())
            model_file = report.bundle_dir / (
                QUANTIZED_MODEL_FILE if config.quantize else MODEL_FILE
            )
            mlflow.log_metric("onnx_model_bytes", model_file.stat().st_size)
            runtime = settings.runtime_options(config.onnx_threads)
            return record(run, report.bundle_dir, settings, config.register, runtime)
