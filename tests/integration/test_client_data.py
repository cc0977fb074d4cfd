"""The client's labelled export as a first-class dataset, through the CLI: `badbuzz train
--eval-data` logs and tags client_* metrics, `badbuzz promote --metric client_accuracy`
ranks by them with the floor on the client's positives, and `badbuzz evaluate
--label-column` reports the binary metrics and where the neutral tweets go."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.api.support import MODEL

from .support import Cli

pytestmark = pytest.mark.integration

COMPLAINTS = (
    "lost my bag",
    "cancelled my flight",
    "kept us waiting three hours",
    "was rude at the gate",
    "broke my suitcase",
    "overbooked the flight again",
)
PRAISE = ("thank you for the upgrade", "love the crew", "great service today")
NEUTRAL = ("what time does boarding start", "is the lounge open", "which gate for Boston")


def planted_export(path: Path) -> Path:
    """An airline's export: 24 negative, 6 positive (80 % negative) and 6 neutral tweets."""
    rows = [
        *(("negative", f"@acme you {what} {n}") for what in COMPLAINTS for n in range(4)),
        *(("positive", f"@acme {what}! {n}") for what in PRAISE for n in range(2)),
        *(("neutral", f"@acme {what}? {n}") for what in NEUTRAL for n in range(2)),
    ]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["tweet_id", "airline_sentiment", "text"])
        writer.writerows((i, label, text) for i, (label, text) in enumerate(rows))
    return path


def test_the_clients_export_is_measured_ranked_and_evaluated(
    sentiment140: Path, tmp_path: Path
) -> None:
    cli = Cli(tmp_path / "home", sentiment140)
    export = planted_export(tmp_path / "airline.csv")
    client = ("--eval-data", str(export), "--label-column", "airline_sentiment")

    no_label = cli("train", "baseline", "--models", "nb", "--eval-data", str(export))
    assert no_label.returncode == 2, cli.explain(no_label)
    assert "--eval-data needs --label-column" in " ".join(no_label.stderr.split())

    result = cli("train", "baseline", "--models", "logreg", "--sample", "2000", *client)
    assert result.returncode == 0, cli.explain(result)
    assert "On the client's tweets" in result.stdout
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{cli.home / 'mlflow' / 'mlflow.db'}"
    tags = dict(MlflowClient(uri, uri).get_model_version(MODEL, "1").tags)
    assert float(tags["client_negative_share"]) == pytest.approx(0.8)
    assert 0.0 <= float(tags["client_accuracy"]) <= 1.0
    shares = float(tags["client_neutral_called_negative"]) + float(
        tags["client_neutral_called_positive"]
    )
    assert shares == pytest.approx(1.0)

    ranked = cli("promote", "--metric", "client_accuracy", "--min-positive-recall", "0")
    assert ranked.returncode == 0, cli.explain(ranked)
    out = " ".join(ranked.stdout.split())
    assert "versions by client_accuracy (client_positive_recall >= 0.0)" in out
    assert "@champion -> tweet-sentiment version 1" in out

    evaluated = cli("evaluate", "--data", str(export), "--label-column", "airline_sentiment")
    assert evaluated.returncode == 0, cli.explain(evaluated)
    out = " ".join(evaluated.stdout.split())
    assert "on 30 tweets of airline.csv" in out
    assert "Negatives: 80.0% of the 30 negative and positive tweets" in out
    assert "Neutral tweets (6): " in out and "called negative" in out


def test_a_neutral_band_is_chosen_on_the_export_and_kept_by_a_retrain(
    sentiment140: Path, tmp_path: Path
) -> None:
    import json

    import mlflow
    from mlflow.tracking import MlflowClient

    from badbuzz.registry import download_bundle
    from badbuzz.settings import OpsSettings
    from ops.database import connect

    from .travel import store_verdicts, travel_tweets

    cli = Cli(tmp_path / "home", sentiment140)
    export = tmp_path / "airline.csv"
    rows = [
        *(("negative", f"@acme you {what} {n}") for what in COMPLAINTS for n in range(8)),
        *(("positive", f"@acme {what}! {n}") for what in PRAISE for n in range(8)),
        *(("neutral", f"@acme {what}? {n}") for what in NEUTRAL for n in range(14)),
    ]
    with export.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["airline_sentiment", "text"])
        writer.writerows(rows)
    client = ("--eval-data", str(export), "--label-column", "airline_sentiment")
    trained = cli("train", "baseline", "--models", "logreg", "--sample", "2000", *client)
    assert trained.returncode == 0, cli.explain(trained)
    uri = f"sqlite:///{cli.home / 'mlflow' / 'mlflow.db'}"
    registry = MlflowClient(uri, uri)
    registry.set_registered_model_alias(MODEL, "champion", "1")

    def band(version: str) -> list[float] | None:
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        folder = download_bundle(f"models:/{MODEL}/{version}", tmp_path / f"v{version}")
        value = json.loads((folder / "manifest.json").read_text())["neutral_band"]
        return None if value is None else list(value)

    champion_band = band("1")
    assert champion_band is not None, "no band chosen on 42 neutral tweets"
    assert 0.0 <= champion_band[0] < champion_band[1] <= 1.0

    tweets = travel_tweets(sentiment140)
    engine = connect(OpsSettings(home=cli.home).resolved_database_url)
    store_verdicts(engine, tweets)
    engine.dispose()
    retrained = cli("retrain", "--recipe", "champion", "--confidence", "0.5")
    assert retrained.returncode == 0, cli.explain(retrained)
    challenger_band = band("2")  # registered whatever the gate said
    assert challenger_band is not None  # chosen on the champion's export for its own scores
