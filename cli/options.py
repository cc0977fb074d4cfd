"""Options that several commands share, declared once."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from badbuzz.metric_names import SELECTABLE_METRICS, RankingTag

if TYPE_CHECKING:
    from training.data.client import ClientSource

DataOption = Annotated[
    Path | None,
    typer.Option(
        "--data",
        help="Sentiment140 training CSV (.csv, .csv.gz, .zip) or a folder holding one. "
        "Default: $BADBUZZ_SENTIMENT140, then the download cache.",
    ),
]
ManualOption = Annotated[
    Path | None,
    typer.Option(
        "--manual",
        help="Manual test set CSV. Default: next to the training data, or inside the zip.",
    ),
]
SampleOption = Annotated[
    int | None,
    typer.Option("--sample", min=100, help="Use a stratified sample of N tweets."),
]
SeedOption = Annotated[int, typer.Option(help="Seed for sampling, splits and models.")]
RegisterOption = Annotated[
    bool, typer.Option(help="Register each model as a version of the registered model.")
]
MetricOption = Annotated[
    RankingTag,
    typer.Option(
        "--metric",
        metavar="METRIC",
        show_choices=False,  # the help lists them once, without the manual_ copies
        help=f"Ranking metric tag: one of {', '.join(SELECTABLE_METRICS)} (held-out split), "
        "or the same prefixed manual_ (the manual test set) or client_ (the client's export, "
        "versions trained with --eval-data). The KPI: positive_precision "
        "(see README, Metrics).",
    ),
]
EvalDataOption = Annotated[
    Path | None,
    typer.Option(
        "--eval-data",
        help="A client's labelled export (CSV with a header, e.g. airline tweets): every model "
        "is also evaluated on it, as client_* metrics and version tags that promote can rank "
        "by. Needs --label-column.",
    ),
]
TextColumnOption = Annotated[
    str, typer.Option("--text-column", help="The column of the client's export holding the tweets.")
]
LabelColumnOption = Annotated[
    str | None,
    typer.Option(
        "--label-column",
        help="The column of the client's export holding negative/neutral/positive (or 0/2/4), "
        "e.g. airline_sentiment.",
    ),
]
ModelUriOption = Annotated[
    str | None,
    typer.Option(
        help="models:/NAME@ALIAS, models:/NAME/VERSION or runs:/RUN/model. "
        "Default: models:/$BADBUZZ_MODEL_NAME@champion.",
    ),
]
EmbeddingOption = Annotated[
    Literal["word2vec", "glove"],
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


def comma_separated(value: str, choices: Sequence[str], option: str) -> tuple[str, ...]:
    """The names in a comma-separated option, each one of `choices`."""
    names = tuple(name.strip() for name in value.split(",") if name.strip())
    unknown = [name for name in names if name not in choices]
    if unknown or not names:
        raise typer.BadParameter(
            f"unknown {unknown}: choose from {', '.join(choices)}", param_hint=option
        )
    return names


def champion_uri(model_uri: str | None, model_name: str) -> str:
    return model_uri or f"models:/{model_name}@champion"


def client_source(
    data: Path | None, text_column: str, label_column: str | None
) -> ClientSource | None:
    """The client's export named by --eval-data and its columns, or None without one."""
    from training.data.client import ClientSource

    if data is None:
        return None
    if label_column is None:
        raise typer.BadParameter(
            "--eval-data needs --label-column: the column of negative/neutral/positive labels",
            param_hint="--label-column",
        )
    return ClientSource(data, text_column, label_column)
