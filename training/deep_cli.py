"""`badbuzz train lstm` and `badbuzz tune`: the Keras networks from the shell. TensorFlow,
gensim and Optuna are imported inside the commands, so `badbuzz --help` stays fast."""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.table import Table

from training.cli import DataOption, ManualOption, RegisterOption, SampleOption, SeedOption, console
from training.settings import TrainingSettings

if TYPE_CHECKING:
    from training.deep import DeepConfig
    from training.runs import TrainedModel

EmbeddingOption = Annotated[
    str,
    typer.Option(
        "--embedding",
        help="word2vec (trained with gensim on the training split) or glove (read from --glove).",
    ),
]
GloveOption = Annotated[
    Path | None,
    typer.Option(
        "--glove",
        help="Stanford GloVe vectors (.txt, .txt.gz, or the .zip, e.g. glove.twitter.27B.zip); "
        "required with --embedding glove.",
    ),
]
GloveDimOption = Annotated[
    int | None,
    typer.Option(help="Vector size to read from a GloVe zip holding several (25, 50, 100, 200)."),
]
MaxLenOption = Annotated[
    int, typer.Option("--max-len", min=4, help="Tokens per tweet: longer ones are cut at the end.")
]
BatchSizeOption = Annotated[int, typer.Option(min=8, help="Training batch size.")]
VectorSizeOption = Annotated[int, typer.Option(min=8, help="Word2Vec vector size.")]


def _quiet_libraries() -> None:
    # TensorFlow's C++ start-up notices and gensim's per-step events drown the progress log.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for name in ("gensim", "tensorflow", "absl", "optuna"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _architectures(architecture: str, bidirectional: bool) -> tuple[str, ...]:
    from training.networks import ARCHITECTURES

    names = tuple(name.strip() for name in architecture.split(",") if name.strip())
    if bidirectional:
        if names not in (("lstm",), ("bilstm",)):
            raise typer.BadParameter(
                "--bidirectional turns an lstm into a bilstm; leave it out with "
                f"--architecture {architecture}",
                param_hint="--bidirectional",
            )
        names = ("bilstm",)
    unknown = [name for name in names if name not in ARCHITECTURES]
    if unknown or not names:
        raise typer.BadParameter(
            f"unknown {unknown}: choose from {', '.join(ARCHITECTURES)}",
            param_hint="--architecture",
        )
    return names


def _check_embedding(embedding: str, glove: Path | None) -> None:
    from training.data import DataError

    if embedding not in ("word2vec", "glove"):
        raise typer.BadParameter("use word2vec or glove", param_hint="--embedding")
    if embedding == "glove":
        if glove is None:
            raise DataError(
                "--embedding glove needs --glove PATH: Stanford vectors such as "
                "glove.twitter.27B.zip from https://nlp.stanford.edu/projects/glove/"
            )
        if not glove.is_file():
            raise DataError(f"{glove}: no such GloVe file (given with --glove)")


def _results_table(results: list[TrainedModel], title: str) -> Table:
    table = Table(title=title)
    for column in (
        "model",
        "embedding",
        "version",
        "test acc",
        "test precision",
        "test buzz",
        "manual acc",
        "manual precision",
        "seconds",
    ):
        table.add_column(column, justify="left" if column in ("model", "embedding") else "right")
    for r in results:
        table.add_row(
            r.name,
            r.embedding_type,
            r.version or "-",
            f"{r.test['accuracy']:.3f}",
            f"{r.test['precision']:.3f}",
            f"{r.test['buzz_score']:.3f}",
            f"{r.manual['accuracy']:.3f}",
            f"{r.manual['precision']:.3f}",
            f"{r.seconds:.0f}",
        )
    return table


def lstm(
    embedding: EmbeddingOption = "word2vec",
    glove: GloveOption = None,
    glove_dim: GloveDimOption = None,
    architecture: Annotated[
        str,
        typer.Option(
            help="dense (average of word vectors), lstm or bilstm; comma-separated to train "
            "several on the same vocabulary and vectors."
        ),
    ] = "lstm",
    bidirectional: Annotated[
        bool, typer.Option("--bidirectional", help="Shorthand for --architecture bilstm.")
    ] = False,
    units: Annotated[int, typer.Option(min=4, help="LSTM units (per direction).")] = 64,
    dropout: Annotated[
        float, typer.Option(min=0.0, max=0.9, help="Dropout on word vectors and before output.")
    ] = 0.5,
    learning_rate: Annotated[float, typer.Option(min=1e-6, help="Adam learning rate.")] = 5e-4,
    trainable_embedding: Annotated[
        bool,
        typer.Option(
            "--trainable-embedding/--frozen-embedding",
            help="Fine-tune the word vectors, or keep them fixed.",
        ),
    ] = True,
    epochs: Annotated[
        int, typer.Option(min=1, help="Most epochs; early stopping on validation loss.")
    ] = 8,
    patience: Annotated[
        int, typer.Option(min=1, help="Epochs without better validation loss before stopping.")
    ] = 2,
    batch_size: BatchSizeOption = 128,
    max_len: MaxLenOption = 32,
    min_count: Annotated[
        int, typer.Option(min=1, help="Keep words seen at least this often in training.")
    ] = 2,
    max_words: Annotated[int, typer.Option(min=100, help="Vocabulary size cap.")] = 30_000,
    vector_size: VectorSizeOption = 100,
    w2v_epochs: Annotated[int, typer.Option(min=1, help="Word2Vec training epochs.")] = 10,
    w2v_window: Annotated[int, typer.Option(min=1, help="Word2Vec context window.")] = 5,
    skipgram: Annotated[bool, typer.Option("--skipgram/--cbow", help="Word2Vec algorithm.")] = True,
    data: DataOption = None,
    manual: ManualOption = None,
    sample: SampleOption = None,
    seed: SeedOption = 42,
    bundle_format: Annotated[
        Literal["tflite", "keras"],
        typer.Option(
            help="tflite: convert and check here; keras: the bundle carries model.keras and "
            "is converted (once, cached) where it is served, if TensorFlow runs there.",
        ),
    ] = "tflite",
    register: RegisterOption = True,
) -> None:
    """Word2Vec or GloVe vectors + dense/LSTM/BiLSTM networks: early stopping, curves and the
    Keras model logged to MLflow, exported to TFLite (checked against Keras), evaluated on
    the held-out split and the manual test set, and registered."""
    import sys

    _check_embedding(embedding, glove)
    names = _architectures(architecture, bidirectional)
    _quiet_libraries()
    from training.dataset import prepare_data
    from training.deep import DeepConfig, train_networks
    from training.embeddings import Word2VecConfig
    from training.networks import NetworkConfig
    from training.tracking import configure_tracking

    config = DeepConfig(
        architectures=names,  # type: ignore[arg-type]
        embedding=embedding,  # type: ignore[arg-type]
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
        progress_bar=sys.stdout.isatty(),
    )
    settings = TrainingSettings()
    target = configure_tracking(settings)
    prepared = prepare_data(settings, data, manual, sample, seed)
    results = train_networks(config, prepared, settings, target)
    console.print(
        _results_table(
            results, f"Trained on {len(prepared.split.train):,} tweets of {prepared.source}"
        )
    )
    console.print(f"Runs logged to {target.describe()}")


def tune(
    trials: Annotated[int, typer.Option(min=1, help="Optuna trials to run.")] = 20,
    architecture: Annotated[str, typer.Option(help="dense, lstm or bilstm.")] = "bilstm",
    embedding: EmbeddingOption = "word2vec",
    glove: GloveOption = None,
    glove_dim: GloveDimOption = None,
    epochs: Annotated[
        int, typer.Option(min=1, help="Most epochs per trial (pruned trials stop earlier).")
    ] = 4,
    timeout: Annotated[
        int | None, typer.Option(min=1, help="Stop starting trials after this many seconds.")
    ] = None,
    tune_max_len: Annotated[
        bool, typer.Option(help="Also search the tokens kept per tweet (24, 32, 48).")
    ] = False,
    train_best: Annotated[
        bool,
        typer.Option(help="Then train, evaluate and register a network with the best params."),
    ] = False,
    final_epochs: Annotated[
        int, typer.Option(min=1, help="Most epochs of the --train-best network.")
    ] = 8,
    data: DataOption = None,
    manual: ManualOption = None,
    sample: SampleOption = None,
    seed: SeedOption = 42,
) -> None:
    """Optuna search over units, dropout, learning rate, batch size and frozen/trainable
    vectors (median pruning on validation loss); every trial a nested MLflow run, the best
    params on the parent run."""
    _check_embedding(embedding, glove)
    names = _architectures(architecture, False)
    if len(names) != 1:
        raise typer.BadParameter("tune one architecture at a time", param_hint="--architecture")
    _quiet_libraries()
    from training.dataset import prepare_data
    from training.deep import DeepConfig, train_networks
    from training.tracking import configure_tracking
    from training.tune import TuneConfig, run_study

    settings = TrainingSettings()
    target = configure_tracking(settings)
    prepared = prepare_data(settings, data, manual, sample, seed)
    base = DeepConfig(
        architectures=names,  # type: ignore[arg-type]
        embedding=embedding,  # type: ignore[arg-type]
        glove_path=glove,
        glove_dim=glove_dim,
        epochs=epochs,
        seed=seed,
    )
    result = run_study(
        TuneConfig(trials=trials, timeout=timeout, tune_max_len=tune_max_len),
        base,
        prepared,
        target,
    )
    table = Table(title=f"Best of {result.complete} complete, {result.pruned} pruned trials")
    table.add_column("param")
    table.add_column("value", justify="right")
    for key, value in {**result.best_params, "val_loss": result.best_value}.items():
        table.add_row(key, f"{value:.4g}" if isinstance(value, float) else str(value))
    console.print(table)
    console.print(f"Study logged as run {result.run_id} in {target.describe()}")
    if train_best:
        best: DeepConfig = replace(result.best_config(base), epochs=final_epochs)
        results = train_networks(best, prepared, settings, target)
        console.print(_results_table(results, "Trained with the best params"))
