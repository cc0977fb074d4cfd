"""`badbuzz data|train|evaluate|promote`: the training stages from the shell."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from training.metrics import SELECTABLE_METRICS
from training.settings import TrainingSettings

log = logging.getLogger(__name__)
console = Console()

data_app = typer.Typer(help="Get and inspect the Sentiment140 data.", no_args_is_help=True)
train_app = typer.Typer(help="Train model families and log them to MLflow.", no_args_is_help=True)

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
    str,
    typer.Option(
        "--metric",
        help=f"Ranking metric tag: one of {', '.join(SELECTABLE_METRICS)}, "
        "or the same prefixed manual_ (scored on the manual test set).",
    ),
]


@data_app.command("fetch")
def fetch(
    source: Annotated[
        Path | None,
        typer.Option("--from", help="Use this local .csv/.csv.gz/.zip instead of downloading."),
    ] = None,
) -> None:
    """Download the official Sentiment140 archive (md5-checked) into the cache, or import a
    local copy."""
    from training.sources import download_official, import_local

    settings = TrainingSettings()
    path = import_local(settings, source) if source else download_official(settings)
    console.print(f"Sentiment140 data ready: [bold]{path}[/]")


@data_app.command("describe")
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
    from training.data import data_hash, read_sentiment140
    from training.describe import write_report
    from training.sources import locate_training
    from training.split import stratified_sample

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

        from training.tracking import configure_tracking, experiment_name, use_experiment

        target = configure_tracking(settings)
        use_experiment(experiment_name(digest), target)
        with mlflow.start_run(run_name="describe"):
            mlflow.set_tags({"data_hash": digest, "stage": "describe"})
            mlflow.log_artifacts(str(out_dir), artifact_path="describe")
    console.print(f"Report written to [bold]{written[0]}[/] ({len(written) - 1} plots beside it)")


@train_app.command("baseline")
def baseline(
    models: Annotated[
        str,
        typer.Option(
            help="Comma-separated: nb, logreg, svm, rf, lgbm, xgb (classical), vader, "
            "textblob (lexicons)."
        ),
    ] = "nb,logreg,svm,rf,lgbm,xgb,vader,textblob",
    vectorizer: Annotated[str, typer.Option(help="bow (binary counts) or tfidf.")] = "tfidf",
    ngram_max: Annotated[int, typer.Option(min=1, max=3, help="Word n-grams up to N.")] = 2,
    char_ngrams: Annotated[
        bool, typer.Option(help="Add character 2-5-grams beside the word n-grams.")
    ] = False,
    lexicon_features: Annotated[
        bool, typer.Option(help="Add VADER lexicon scores as features of the classical models.")
    ] = True,
    stemming: Annotated[str, typer.Option(help="none, snowball or lemma.")] = "none",
    stopwords: Annotated[bool, typer.Option(help="Drop stop-words (negations kept).")] = False,
    optimize: Annotated[
        str, typer.Option(help=f"CV search metric: {', '.join(SELECTABLE_METRICS)}.")
    ] = "precision",
    cv_folds: Annotated[int, typer.Option(min=2, help="Cross-validation folds.")] = 3,
    search_sample: Annotated[
        int, typer.Option(min=100, help="Tweets of the training split used by the CV search.")
    ] = 20_000,
    data: DataOption = None,
    manual: ManualOption = None,
    sample: SampleOption = None,
    seed: SeedOption = 42,
    register: RegisterOption = True,
) -> None:
    """Train classical and lexicon baselines; evaluate each on the held-out split and the
    manual test set; log and register them in MLflow."""
    from training.classical import TrainConfig, train_models
    from training.dataset import prepare_data
    from training.models import MODELS
    from training.text import NormalizationConfig
    from training.tracking import configure_tracking

    names = tuple(name.strip() for name in models.split(",") if name.strip())
    unknown = [name for name in names if name not in MODELS]
    if unknown or not names:
        raise typer.BadParameter(
            f"unknown {unknown}: choose from {sorted(MODELS)}", param_hint="--models"
        )
    if vectorizer not in ("bow", "tfidf"):
        raise typer.BadParameter("use bow or tfidf", param_hint="--vectorizer")
    if stemming not in ("none", "snowball", "lemma"):
        raise typer.BadParameter("use none, snowball or lemma", param_hint="--stemming")
    if optimize not in SELECTABLE_METRICS:
        raise typer.BadParameter(f"use one of {SELECTABLE_METRICS}", param_hint="--optimize")
    settings = TrainingSettings()
    config = TrainConfig(
        models=names,
        vectorizer=vectorizer,  # type: ignore[arg-type]
        ngram_max=ngram_max,
        char_ngrams=char_ngrams,
        lexicon_features=lexicon_features,
        normalization=NormalizationConfig(stopwords=stopwords, stemming=stemming),  # type: ignore[arg-type]
        optimize=optimize,
        cv_folds=cv_folds,
        search_sample=search_sample,
        seed=seed,
        register=register,
    )
    target = configure_tracking(settings)
    prepared = prepare_data(settings, data, manual, sample, seed)
    results = train_models(config, prepared, settings, target)

    table = Table(title=f"Trained on {len(prepared.split.train):,} tweets of {prepared.source}")
    for column in (
        "model",
        "family",
        "embedding",
        "version",
        "test precision",
        "test buzz",
        "manual acc",
        "manual precision",
        "seconds",
    ):
        table.add_column(column, justify="left" if column in ("model", "family") else "right")
    for r in sorted(results, key=lambda r: r.test["precision"], reverse=True):
        table.add_row(
            r.name,
            r.model_family,
            r.embedding_type,
            r.version or "-",
            f"{r.test['precision']:.3f}",
            f"{r.test['buzz_score']:.3f}",
            f"{r.manual['accuracy']:.3f}",
            f"{r.manual['precision']:.3f}",
            f"{r.seconds:.0f}",
        )
    console.print(table)
    console.print(f"Runs logged to {target.describe()}")


def evaluate(
    model_uri: Annotated[
        str, typer.Option(help="models:/NAME@ALIAS, models:/NAME/VERSION or runs:/RUN/model.")
    ] = "models:/tweet-sentiment@champion",
    data: Annotated[
        Path | None,
        typer.Option(help="Labelled Sentiment140-format CSV. Default: the manual test set."),
    ] = None,
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
    data has neutral rows."""
    import tempfile

    from training.bundle import ModelBundle
    from training.data import binary, read_sentiment140
    from training.metrics import evaluate_scores, three_class_report
    from training.registry import download_bundle
    from training.sources import DataFile, locate_manual_test
    from training.tracking import configure_tracking

    settings = TrainingSettings()
    configure_tracking(settings)
    source = locate_manual_test(settings) if data is None else DataFile(data)
    path = source.path
    frame = read_sentiment140(path, member=source.member, keep_neutral=True)
    with tempfile.TemporaryDirectory() as tmp:
        bundle = ModelBundle.load(download_bundle(model_uri, Path(tmp)))
        p_all = bundle.predict_proba(frame["text"].tolist())
    two_class = binary(frame)
    mask = frame["label"].to_numpy() >= 0
    evaluation = evaluate_scores(two_class["label"].to_numpy(), p_all[mask], bundle.threshold)
    report = {
        "model_uri": model_uri,
        "data": str(path),
        "rows": len(two_class),
        "metrics": evaluation.metrics,
        "confusion": evaluation.confusion.tolist(),
    }
    if (~mask).any():
        report["three_class"] = three_class_report(
            frame["polarity"].to_numpy(), p_all, neutral_band
        )
    table = Table(title=f"{model_uri} on {len(two_class)} tweets of {path.name}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in evaluation.metrics.items():
        table.add_row(name, f"{value:.4f}")
    console.print(table)
    if "three_class" in report:
        console.print(
            f"3-class accuracy (neutral band {neutral_band}): "
            f"{report['three_class']['accuracy']:.3f} on {len(frame)} tweets"
        )
    settings.reports_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    out = settings.reports_dir / f"evaluate-{stamp}.json"
    out.write_text(json.dumps(report, indent=2))
    console.print(f"Report written to [bold]{out}[/]")


def promote(
    metric: MetricOption = "precision",
    embedding_type: Annotated[
        str | None, typer.Option(help="Only versions with this embedding_type tag.")
    ] = None,
    min_recall: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Skip versions whose held-out recall of negatives "
            "is below this: precision alone rewards models that flag almost nothing.",
        ),
    ] = 0.5,
    alias: Annotated[str, typer.Option(help="Alias to move to the best version.")] = "champion",
    dry_run: Annotated[bool, typer.Option(help="Rank only; do not move the alias.")] = False,
) -> None:
    """Rank registered versions by a metric tag and move the alias to the best."""
    from mlflow.tracking import MlflowClient

    from training.registry import best_version, rank_versions, set_alias
    from training.tracking import configure_tracking

    settings = TrainingSettings()
    target = configure_tracking(settings)
    client = MlflowClient()
    best = best_version(client, settings.model_name, metric, embedding_type, min_recall)
    table = Table(title=f"{settings.model_name} versions by {metric} (recall >= {min_recall})")
    for column in ("version", metric, "family", "embedding", "aliases"):
        table.add_column(column, justify="right" if column in ("version", metric) else "left")
    for c in rank_versions(client, settings.model_name, metric, embedding_type, min_recall):
        table.add_row(
            c.version, f"{c.score:.4f}", c.model_family, c.embedding_type, ", ".join(c.aliases)
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


def export(
    out: Annotated[Path, typer.Option(help="Target: a folder, or a file ending in .tar.gz.")],
    model_uri: Annotated[
        str, typer.Option(help="models:/NAME@ALIAS, models:/NAME/VERSION or runs:/RUN/model.")
    ] = "models:/tweet-sentiment@champion",
) -> None:
    """Export a logged model's bundle as a plain folder or a .tar.gz an image can carry."""
    import shutil
    import tempfile

    from training.bundle import pack
    from training.registry import download_bundle
    from training.tracking import configure_tracking

    configure_tracking(TrainingSettings())
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
