"""`badbuzz data`: get and inspect the Sentiment140 data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.options import DataOption, SampleOption, SeedOption
from cli.tables import console

app = typer.Typer(help="Get and inspect the Sentiment140 data.", no_args_is_help=True)


@app.command("fetch")
def fetch(
    source: Annotated[
        Path | None,
        typer.Option("--from", help="Use this local .csv/.csv.gz/.zip instead of downloading."),
    ] = None,
) -> None:
    """Download the official Sentiment140 archive (md5-checked) into the cache, or import a
    local copy."""
    from badbuzz.settings import TrainingSettings
    from training.data.sources import download_official, import_local

    settings = TrainingSettings()
    path = import_local(settings, source) if source else download_official(settings)
    console.print(f"Sentiment140 data ready: [bold]{path}[/]")


@app.command("describe")
def describe(
    data: DataOption = None,
    sample: SampleOption = None,
    seed: SeedOption = 42,
    track: Annotated[
        bool, typer.Option("--track/--no-track", help="Log the report to MLflow.")
    ] = True,
) -> None:
    """Class balance, tweet lengths, URLs/mentions/hashtags/emoticons and top tokens per class:
    a markdown report with PNG plots."""
    from badbuzz.settings import TrainingSettings
    from training.data.describe import write_report
    from training.data.sentiment140 import data_hash, read_sentiment140
    from training.data.sources import locate_training
    from training.data.split import stratified_sample

    settings = TrainingSettings()
    source = locate_training(settings, data)
    frame = read_sentiment140(source.path, member=source.member)
    if sample:
        frame = stratified_sample(frame, sample, seed)
    digest = data_hash(frame)
    out_dir = settings.reports_dir / f"describe-{digest[:12]}"
    written = write_report(frame, out_dir, title=f"Sentiment140 ({source.path.name})")
    if track:
        import mlflow

        from badbuzz.registry import configure_tracking
        from training.tracking.experiments import experiment_name, use_experiment

        target = configure_tracking(settings)
        use_experiment(experiment_name(digest), target)
        with mlflow.start_run(run_name="describe"):
            mlflow.set_tags({"data_hash": digest, "stage": "describe"})
            mlflow.log_artifacts(str(out_dir), artifact_path="describe")
    console.print(f"Report written to [bold]{written[0]}[/] ({len(written) - 1} plots beside it)")


@app.command("feedback-export")
def feedback_export(
    out: Annotated[Path, typer.Option(help="CSV file to write (Sentiment140's layout).")],
) -> None:
    """Write the API's feedback (BADBUZZ_DATABASE_URL), cleaned as `badbuzz retrain` cleans
    it, as a headerless Sentiment140 CSV: polarity 0/2/4 (2: neutral), id, date, query,
    user, text."""
    from badbuzz.settings import OpsSettings
    from training.feedback.clean import clean_feedback, write_sentiment140
    from training.feedback.store import read_feedback

    feedback = clean_feedback(read_feedback(OpsSettings().resolved_database_url))
    write_sentiment140(feedback.rows, out)
    console.print(
        f"{len(feedback.rows)} labelled tweets from {feedback.verdicts} verdicts "
        f"({feedback.duplicates} duplicates, {feedback.contradictions} contradicting texts "
        f"dropped) written to [bold]{out}[/]"
    )
