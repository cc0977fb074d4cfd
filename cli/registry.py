"""`badbuzz evaluate | promote | export`: what is done with registered models."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.table import Table

from badbuzz.metric_names import (
    CLIENT_ONLY,
    DEFAULT_FLOOR,
    KPI,
    NEGATIVE_SHARE,
    NEUTRAL_CALLED_NEGATIVE,
    NEUTRAL_CALLED_POSITIVE,
    floor_metric,
)
from cli.options import (
    LabelColumnOption,
    MetricOption,
    ModelUriOption,
    TextColumnOption,
    champion_uri,
    client_source,
)
from cli.tables import console, threshold_table

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from badbuzz.bundle.model import Classified, ModelBundle
    from badbuzz.settings import TrainingSettings
    from training.data.client import ClientSource

app = typer.Typer()


@app.command("evaluate")
def evaluate(
    model_uri: ModelUriOption = None,
    data: Annotated[
        Path | None,
        typer.Option(
            help="Labelled tweets: a Sentiment140-format CSV, or with --label-column a client's "
            "export (CSV with a header). Default: the manual test set."
        ),
    ] = None,
    text_column: TextColumnOption = "text",
    label_column: LabelColumnOption = None,
    neutral_band: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Scores this close to 0.5 (total width) count as neutral in the 3-class report.",
        ),
    ] = 0.2,
) -> None:
    """Score a logged model on labelled tweets: binary metrics, plus a 3-class report when the
    data has neutral rows. A client's export (--label-column): binary metrics on its negative
    and positive tweets, its share of negatives, and where its neutral tweets go."""
    import tempfile

    from badbuzz.bundle.model import ModelBundle
    from badbuzz.registry import configure_tracking, download_bundle
    from badbuzz.settings import TrainingSettings
    from training.evaluation.metrics import evaluate_scores, three_class_report

    settings = TrainingSettings()
    model_uri = champion_uri(model_uri, settings.model_name)
    if label_column and data is None:
        raise typer.BadParameter(
            "--label-column names a column of a client's export: give the file with --data",
            param_hint="--data",
        )
    client = client_source(data, text_column, label_column) if label_column else None
    frame, path = labelled_tweets(settings, data, client)
    configure_tracking(settings)
    with tempfile.TemporaryDirectory() as tmp:
        bundle = ModelBundle.load(download_bundle(model_uri, Path(tmp)), settings.runtime_options())
        classified = bundle.classify(frame["text"].tolist())
    p_all = classified.p_positive
    labels = frame["label"].to_numpy()
    mask = labels >= 0
    evaluation = evaluate_scores(labels[mask], p_all[mask], bundle.threshold)
    report: dict[str, object] = {
        "model_uri": model_uri,
        "data": str(path),
        "rows": int(mask.sum()),
        "threshold": bundle.threshold,
        "metrics": evaluation.metrics,
        "confusion": evaluation.confusion.tolist(),
    }
    title = f"{model_uri} on {int(mask.sum())} tweets of {path.name}"
    console.print(threshold_table(evaluation.metrics, bundle.threshold, title))
    if client is not None:
        report["client"] = client_report(client, labels, classified, bundle)
    elif (~mask).any():
        three_class = three_class_report(frame["polarity"].to_numpy(), p_all, neutral_band)
        report["three_class"] = three_class
        console.print(
            f"3-class accuracy (neutral band {neutral_band}): "
            f"{three_class['accuracy']:.3f} on {len(frame)} tweets"
        )
    settings.reports_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    out = settings.reports_dir / f"evaluate-{stamp}.json"
    out.write_text(json.dumps(report, indent=2))
    console.print(f"Report written to [bold]{out}[/]")


def labelled_tweets(
    settings: TrainingSettings, data: Path | None, client: ClientSource | None
) -> tuple[pd.DataFrame, Path]:
    """What `evaluate` scores, and the file it came from: the client's export, else a
    Sentiment140-format CSV (default: the manual test set)."""
    from training.data.client import read_client
    from training.data.sentiment140 import read_sentiment140
    from training.data.sources import DataFile, locate_manual_test

    if client is not None:
        return read_client(client).frame, client.path
    source = locate_manual_test(settings) if data is None else DataFile(data)
    return read_sentiment140(source.path, member=source.member, keep_neutral=True), source.path


def client_report(
    client: ClientSource, labels: np.ndarray, classified: Classified, bundle: ModelBundle
) -> dict[str, object]:
    """A client's export at the bundle's threshold: its share of negatives and where its
    neutral tweets go, also as served (with the bundle's neutral head or band) if it has one.
    Printed, and returned for the JSON report."""
    from training.evaluation.metrics import client_metrics
    from training.evaluation.neutral import (
        BAND_F1,
        NEGATIVES_CALLED_NEUTRAL,
        served_label_codes,
        served_metrics,
    )

    mask = labels >= 0
    metrics = client_metrics(labels, classified.p_positive, bundle.threshold)
    shares = {name: metrics[name] for name in CLIENT_ONLY}
    report: dict[str, object] = {
        "text_column": client.text_column,
        "label_column": client.label_column,
        "neutral_rows": int((~mask).sum()),
        **shares,
    }
    console.print(
        f"Negatives: {shares[NEGATIVE_SHARE]:.1%} of the {int(mask.sum())} negative and "
        f"positive tweets (Sentiment140: 50 %)."
    )
    if (~mask).any():
        console.print(
            f"Neutral tweets ({int((~mask).sum())}): {shares[NEUTRAL_CALLED_NEGATIVE]:.1%} "
            f"called negative, {shares[NEUTRAL_CALLED_POSITIVE]:.1%} positive, at "
            f"{bundle.threshold:.3g}."
        )
    band = bundle.decision.neutral_band
    if (bundle.neutral_head is not None or band is not None) and (~mask).any():
        served = served_metrics(labels, served_label_codes(classified.labels))
        report |= served
        if bundle.neutral_head is not None:
            decides, report["neutral_head"] = "neutral head", True
        elif band is not None:
            decides, report["neutral_band"] = f"neutral band [{band[0]:.3f}, {band[1]:.3f})", band
        console.print(
            f"As served, with the bundle's {decides}: "
            f"{served[f'{NEUTRAL_CALLED_NEGATIVE}_with_band']:.1%} of the neutral tweets "
            f"called negative, {served[NEGATIVES_CALLED_NEUTRAL]:.1%} of the negatives "
            f"called neutral; 3-class macro F1 {served[BAND_F1]:.3f}."
        )
    return report


@app.command("promote")
def promote(
    metric: MetricOption = KPI,
    embedding_type: Annotated[
        str | None, typer.Option(help="Only versions with this embedding_type tag.")
    ] = None,
    min_positive_recall: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Skip versions whose positive recall is below this (held-out; the client's "
            "with a client_ --metric): positive precision alone rewards models that call "
            "almost nothing positive.",
        ),
    ] = DEFAULT_FLOOR,
    alias: Annotated[str, typer.Option(help="Alias to move to the best version.")] = "champion",
    dry_run: Annotated[bool, typer.Option(help="Rank only; do not move the alias.")] = False,
) -> None:
    """Rank registered versions by a metric tag and move the alias to the best."""
    from mlflow.tracking import MlflowClient

    from badbuzz.registry import best_version, configure_tracking, rank_versions, set_alias
    from badbuzz.settings import TrainingSettings

    settings = TrainingSettings()
    target = configure_tracking(settings)
    client = MlflowClient()
    ranked = rank_versions(client, settings.model_name, metric, embedding_type, min_positive_recall)
    best = best_version(client, settings.model_name, metric, embedding_type, min_positive_recall)
    floor = floor_metric(metric)
    table = Table(
        title=f"{settings.model_name} versions by {metric} ({floor} >= {min_positive_recall})",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        padding=0,
    )
    columns = ("version", metric, floor, "threshold", "family", "embedding", "aliases")
    for column in columns:
        # metric names wrap at their underscores, so that values and families fit 80 columns
        table.add_column(
            column.replace("_", "\n"),
            justify="left" if column in columns[4:] else "right",
            min_width=max(len(word) for word in column.split("_")),
            no_wrap=column in columns[4:6],
        )
    for c in ranked:
        table.add_row(
            c.version,
            f"{c.score:.4f}",
            "-" if c.positive_recall is None else f"{c.positive_recall:.4f}",
            "-" if c.threshold is None else f"{c.threshold:.3f}",
            c.model_family,
            c.embedding_type,
            ", ".join(c.aliases),
        )
    console.print(table)
    if dry_run:
        console.print(f"Dry run: would move @{alias} to version {best.version}")
        return
    set_alias(client, settings.model_name, best.version, alias)
    console.print(
        f"@{alias} -> {settings.model_name} version {best.version} ({best.model_family}, "
        f"{best.embedding_type}, {metric}={best.score:.4f}) in {target.describe()}"
    )


@app.command("export")
def export(
    out: Annotated[Path, typer.Option(help="Target: a folder, or a file ending in .tar.gz.")],
    model_uri: ModelUriOption = None,
) -> None:
    """Export a logged model's bundle as a plain folder or a .tar.gz an image can carry."""
    import shutil
    import tempfile

    from badbuzz.bundle.archive import pack
    from badbuzz.registry import configure_tracking, download_bundle
    from badbuzz.settings import TrainingSettings

    settings = TrainingSettings()
    model_uri = champion_uri(model_uri, settings.model_name)
    configure_tracking(settings)
    with tempfile.TemporaryDirectory() as tmp:
        bundle = download_bundle(model_uri, Path(tmp))
        if out.name.endswith(".tar.gz"):
            out.parent.mkdir(parents=True, exist_ok=True)
            pack(bundle, out)
        else:
            if out.exists():
                raise typer.BadParameter(f"{out} exists: choose a new folder", param_hint="--out")
            shutil.copytree(bundle, out)
    console.print(f"Bundle of {model_uri} written to [bold]{out}[/]")
