"""Word2Vec/GloVe + dense/LSTM/BiLSTM networks: fit with early stopping, log the curves and
the Keras model, export to TFLite, check TFLite scores like Keras, then the shared
evaluate-log-register step on the TFLite bundle."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import keras
import mlflow
import numpy as np
from matplotlib.figure import Figure

from badbuzz.bundle.vocabulary import Vocabulary
from badbuzz.errors import ParityError
from badbuzz.metric_names import DEFAULT_THRESHOLD
from badbuzz.registry import TrackingTarget
from badbuzz.settings import TrainingSettings
from badbuzz.text import NormalizationConfig
from training.data.prepared import NormalizedTexts, PreparedData
from training.export.keras import write_keras_bundle
from training.export.tflite import check_parity, export_tflite, write_tflite_bundle
from training.networks.architectures import Architecture, NetworkConfig, build_network
from training.networks.embeddings import (
    Word2VecConfig,
    WordVectors,
    embedding_matrix,
    read_vectors,
    train_word2vec,
)
from training.tracking.experiments import experiment_name, use_experiment
from training.tracking.runs import TrainedModel, model_run, record

log = logging.getLogger(__name__)

EmbeddingType = Literal["word2vec", "glove"]
EMBEDDING_TYPES: tuple[EmbeddingType, ...] = ("word2vec", "glove")


@dataclass(frozen=True)
class DeepConfig:
    architectures: tuple[Architecture, ...] = ("bilstm",)
    embedding: EmbeddingType = "word2vec"
    glove_path: Path | None = None
    glove_dim: int | None = None  # picks the file inside a zip of several sizes
    word2vec: Word2VecConfig = field(default_factory=Word2VecConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)  # architecture: per model
    max_len: int = 32  # tokens; 99.9 % of normalised Sentiment140 tweets are shorter
    min_count: int = 2
    max_words: int = 30_000
    epochs: int = 8
    batch_size: int = 128
    patience: int = 2
    normalization: NormalizationConfig = field(default_factory=NormalizationConfig)
    parity_rows: int = 300
    parity_tolerance: float = 1e-4
    # "tflite": convert and check here; "keras": ship model.keras, converted where it is served
    bundle_format: Literal["tflite", "keras"] = "tflite"
    seed: int = 42
    register: bool = True
    progress_bar: bool = False  # Keras' per-batch bar; epochs are logged either way

    def params(self) -> dict[str, Any]:
        network = {k: v for k, v in self.network.params().items() if k != "architecture"}
        params: dict[str, Any] = {
            "embedding": self.embedding,
            "max_len": self.max_len,
            "min_count": self.min_count,
            "max_words": self.max_words,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "patience": self.patience,
            "seed": self.seed,
            **network,
            **{f"norm_{k}": v for k, v in self.normalization.to_dict().items()},
        }
        if self.embedding == "word2vec":
            params.update(self.word2vec.params())
        else:
            params.update(glove_path=str(self.glove_path), glove_dim=self.glove_dim)
        return params


@dataclass(frozen=True)
class DeepInputs:
    """What every network of one config shares: vocabulary, vectors, encoded splits."""

    vocabulary: Vocabulary
    vectors: WordVectors
    matrix: np.ndarray
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    parity_ids: np.ndarray


def prepare_inputs(
    config: DeepConfig, data: PreparedData, texts: NormalizedTexts | None = None
) -> DeepInputs:
    """Build the vocabulary on the training split, get its word vectors (train Word2Vec or
    read GloVe) and encode the training and validation splits."""
    texts = texts or NormalizedTexts(data)
    train = texts.get("train", config.normalization)
    validation = texts.get("validation", config.normalization)
    vocabulary = Vocabulary.build(train, config.max_len, config.min_count, config.max_words)
    log.info("vocabulary: %d words seen >= %d times", len(vocabulary.words), config.min_count)
    if config.embedding == "word2vec":
        vectors = train_word2vec(train, vocabulary, config.word2vec, config.seed)
    elif config.glove_path is None:
        raise ValueError("a glove embedding needs glove_path")
    else:
        vectors = read_vectors(config.glove_path, vocabulary, dim=config.glove_dim)
    x_val = vocabulary.encode(validation)
    return DeepInputs(
        vocabulary,
        vectors,
        embedding_matrix(vocabulary, vectors, config.seed),
        vocabulary.encode(train),
        data.split.train["label"].to_numpy().astype(np.float32),
        x_val,
        data.split.validation["label"].to_numpy().astype(np.float32),
        parity_sample(x_val, config.parity_rows, config.seed),
    )


def parity_sample(ids: np.ndarray, rows: int, seed: int) -> np.ndarray:
    """Random rows plus the shortest ones (mostly padding, where masking could diverge)."""
    lengths = (ids != 0).sum(axis=1)
    shortest = np.argsort(lengths, kind="stable")[: max(1, rows // 5)]
    rest = np.setdiff1d(np.arange(len(ids)), shortest)
    chosen = np.random.default_rng(seed).permutation(rest)[: rows - len(shortest)]
    return ids[np.concatenate([shortest, chosen])]


class EpochLogger(keras.callbacks.Callback):
    """Per-epoch metrics to MLflow (step = epoch) and to the log."""

    def __init__(self, total_epochs: int) -> None:
        super().__init__()
        self.total_epochs = total_epochs

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        logs = {k: float(v) for k, v in (logs or {}).items() if k != "learning_rate"}
        mlflow.log_metrics({f"epoch_{k}": v for k, v in logs.items()}, step=epoch)
        log.info(
            "epoch %d/%d: %s",
            epoch + 1,
            self.total_epochs,
            ", ".join(f"{k} {v:.4f}" for k, v in logs.items()),
        )


def fit_network(
    network: NetworkConfig,
    config: DeepConfig,
    inputs: DeepInputs,
    callbacks: list[keras.callbacks.Callback] | None = None,
) -> tuple[keras.Model, dict[str, list[float]]]:
    """Fit with early stopping on validation loss (best weights restored)."""
    keras.utils.set_random_seed(config.seed)
    model = build_network(network, inputs.matrix, inputs.vocabulary.max_len)
    stop = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=config.patience, restore_best_weights=True
    )
    history = model.fit(
        inputs.x_train,
        inputs.y_train,
        validation_data=(inputs.x_val, inputs.y_val),
        epochs=config.epochs,
        batch_size=config.batch_size,
        callbacks=[stop, EpochLogger(config.epochs), *(callbacks or [])],
        verbose=1 if config.progress_bar else 0,
    )
    return model, {k: [float(v) for v in values] for k, values in history.history.items()}


def curves_figure(history: dict[str, list[float]], title: str) -> Figure:
    figure = Figure(figsize=(9, 3.5))
    for ax, metric in zip(figure.subplots(1, 2), ("loss", "accuracy"), strict=True):
        for prefix, label in (("", "train"), ("val_", "validation")):
            values = history.get(prefix + metric, [])
            ax.plot(range(1, len(values) + 1), values, marker="o", label=label)
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.legend()
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def train_network(
    architecture: Architecture,
    config: DeepConfig,
    inputs: DeepInputs,
    data: PreparedData,
    settings: TrainingSettings,
) -> TrainedModel:
    network = replace(config.network, architecture=architecture)
    params = {**config.params(), "vocab_size": inputs.vocabulary.vocab_size}
    params["embedding_dim"] = inputs.vectors.dim
    with model_run(architecture, architecture, config.embedding, data, params) as run:
        mlflow.log_metric("embedding_coverage", inputs.vectors.coverage)
        model, history = fit_network(network, config, inputs)
        best_epoch = int(np.argmin(history["val_loss"]))
        mlflow.log_metrics(
            {"best_epoch": best_epoch + 1, "best_val_loss": history["val_loss"][best_epoch]}
        )
        mlflow.log_figure(
            curves_figure(history, f"{architecture} + {config.embedding}"),
            "plots/training_curves.png",
        )
        with tempfile.TemporaryDirectory() as tmp:
            keras_file = Path(tmp) / f"{architecture}.keras"
            model.save(keras_file)
            mlflow.log_artifact(str(keras_file), artifact_path="keras")
            if config.embedding == "word2vec":
                vectors_file = inputs.vectors.save_text(Path(tmp) / "word2vec.txt.gz")
                mlflow.log_artifact(str(vectors_file), artifact_path="embeddings")
            metadata = {"architecture": architecture, "embedding_dim": inputs.vectors.dim}
            # record() replaces the bundle's threshold with the one it chooses on validation
            if config.bundle_format == "keras":
                bundle_dir = write_keras_bundle(
                    Path(tmp) / "bundle",
                    model,
                    inputs.vocabulary,
                    config.normalization,
                    DEFAULT_THRESHOLD,
                    metadata,
                )
                return record(run, bundle_dir, settings, config.register)
            content = export_tflite(model, inputs.vocabulary.max_len)
            try:
                difference = check_parity(
                    model, content, inputs.vocabulary, inputs.parity_ids, config.parity_tolerance
                )
            except ParityError as error:
                mlflow.log_metric("tflite_parity_max_abs_diff", error.difference)
                raise
            mlflow.log_metric("tflite_parity_max_abs_diff", difference)
            mlflow.log_metric("tflite_bytes", len(content))
            bundle_dir = write_tflite_bundle(
                Path(tmp) / "bundle",
                content,
                inputs.vocabulary,
                config.normalization,
                DEFAULT_THRESHOLD,
                metadata,
            )
            return record(run, bundle_dir, settings, config.register)


def train_networks(
    config: DeepConfig, data: PreparedData, settings: TrainingSettings, target: TrackingTarget
) -> list[TrainedModel]:
    """Train, evaluate and register one network per architecture in `config`, sharing one
    vocabulary and one set of word vectors."""
    use_experiment(experiment_name(data.data_hash), target)
    inputs = prepare_inputs(config, data)
    results = []
    for architecture in config.architectures:
        results.append(train_network(architecture, config, inputs, data, settings))
        log.info(
            "%s + %s: threshold %.3f, test positive precision %.3f, manual accuracy %.3f "
            "(run %s, version %s)",
            architecture,
            config.embedding,
            results[-1].threshold,
            results[-1].test["positive_precision"],
            results[-1].manual["accuracy"],
            results[-1].run_id,
            results[-1].version,
        )
    return results
