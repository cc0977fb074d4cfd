"""`badbuzz score`: score a large archive of tweets with a registered model, on this box
(the bundle's batch path, in chunks) or on Spark (MLflow's `spark_udf`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from cli.options import ModelUriOption, champion_uri
from cli.tables import console, errors

if TYPE_CHECKING:
    from badbuzz.settings import TrainingSettings
    from training.scoring.archive import ScoringRun

app = typer.Typer()


@app.command("score")
def score(
    file: Annotated[
        Path,
        typer.Argument(
            help="A CSV of tweets with a header row (UTF-8, with or without a BOM); a quoted "
            'field may hold commas, line breaks and quotes (doubled: "").'
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(help="Where the scored CSV goes (with --engine spark: a folder of parts)."),
    ],
    model_uri: ModelUriOption = None,
    text_column: Annotated[str, typer.Option(help="The column holding the tweets.")] = "text",
    engine: Annotated[
        Literal["local", "spark"],
        typer.Option(help="local: this box, in chunks; spark: Spark through MLflow's spark_udf."),
    ] = "local",
    master: Annotated[
        str, typer.Option(help="Spark master URL (--engine spark): local[N] or a cluster's.")
    ] = "local[*]",
    chunk_rows: Annotated[
        int, typer.Option(min=1, help="Tweets read and scored at a time (--engine local).")
    ] = 10_000,
) -> None:
    """Add `label` and `probability_positive` to every row of FILE; says how fast it went.
    Every row read is written, with all its columns (ids included) as they were: the output
    is read back and its rows counted, and a count that differs is an error (exit 1)."""
    from badbuzz.registry import configure_tracking
    from badbuzz.settings import TrainingSettings

    settings = TrainingSettings()
    model_uri = champion_uri(model_uri, settings.model_name)
    configure_tracking(settings)
    if engine == "spark":
        from training.scoring.spark import score_on_spark

        errors.print(f"Scoring {file} on Spark ({master}) with {model_uri}...")
        run = score_on_spark(model_uri, file, out, text_column, master)
    else:
        run = _score_here(model_uri, file, out, text_column, chunk_rows, settings)
    console.print(
        f"Scored {run.tweets:,} tweets in {run.seconds:.1f} s ({run.tweets_per_s:,.0f} "
        f"tweets/s) with {model_uri}; written to {run.out}: {run.tweets:,} rows, as many as "
        "read"
    )


def _score_here(
    model_uri: str,
    file: Path,
    out: Path,
    text_column: str,
    chunk_rows: int,
    settings: TrainingSettings,
) -> ScoringRun:
    import tempfile

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from badbuzz.bundle.model import ModelBundle
    from badbuzz.registry import download_bundle
    from training.scoring.archive import score_archive

    rows = _count_rows(file)
    with tempfile.TemporaryDirectory() as tmp:
        bundle = ModelBundle.load(download_bundle(model_uri, Path(tmp)), settings.runtime_options())
        columns = (BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*Progress.get_default_columns()[:1], *columns, console=errors) as progress:
            task = progress.add_task("Scoring", total=rows)
            return score_archive(
                bundle,
                file,
                out,
                text_column,
                chunk_rows,
                lambda done: progress.advance(task, done),
            )


def _count_rows(file: Path) -> int | None:
    """The rows after the header, as the scoring reads them (a quoted line break is no new
    row): the progress bar's total. None where the file cannot be read: scoring says why."""
    from training.scoring.archive import count_rows

    try:
        return count_rows(file)
    except (OSError, ValueError, UnicodeDecodeError):  # pandas' parser errors are ValueErrors
        return None
