"""`badbuzz retrain` end to end: a small champion served by a real API process, real
Sentiment140 tweets sent through POST /predict/batch and judged through POST /feedback, then the
challenger trained on them, judged by the gate, registered and promoted, and served after
POST /admin/reload; a challenger made worse on purpose is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import insert

from tests.api.support import API_KEY, KEY_HEADER, MODEL, start_api

from .support import Cli
from .travel import FEEDBACK_TWEETS, TRAVEL, judge, store_verdicts, travel_tweets

pytestmark = pytest.mark.integration


def registry(cli: Cli) -> Any:
    """An MLflow client on the CLI's embedded store (the process's own, not the shell's)."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{cli.home / 'mlflow' / 'mlflow.db'}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def version_tags(cli: Cli) -> tuple[dict[str, dict[str, str]], str]:
    """Tags of every registered version, and the version @champion names."""
    client = registry(cli)
    versions = client.search_model_versions(f"name='{MODEL}'")
    champion = client.get_model_version_by_alias(MODEL, "champion")
    return {str(v.version): dict(v.tags) for v in versions}, str(champion.version)


def test_retrain_from_the_apis_feedback(sentiment140: Path, tmp_path: Path) -> None:
    cli = Cli(tmp_path / "home", sentiment140)
    result = cli("train", "baseline", "--models", "logreg", "--sample", "2000")
    assert result.returncode == 0, cli.explain(result)
    registry(cli).set_registered_model_alias(MODEL, "champion", "1")  # what promote does
    tweets = travel_tweets(sentiment140)
    api = start_api(
        cli.home, tmp_path / "api", {"BADBUZZ_MODEL_ALIAS": "champion", "BADBUZZ_API_KEY": API_KEY}
    )
    try:
        client = api.client()
        assert judge(client, tweets, KEY_HEADER) == {"1"}

        too_few = cli("retrain", "--recipe", "champion", "--min-feedback", "1000")
        assert too_few.returncode == 2, cli.explain(too_few)
        assert "fewer than --min-feedback 1000" in " ".join(too_few.stderr.split())

        # the gate is the latest 180 verdicts: the challenger gains about 5 points of
        # accuracy there, an interval of about +-5.6 at 95 % (refused: tests/code/test_gate.py
        # holds the rule); at 80 % it is promoted, and the rest of the loop can be followed
        result = cli("retrain", "--recipe", "champion", "--confidence", "0.8")
        assert result.returncode == 0, cli.explain(result)
        out = " ".join(result.stdout.split())
        assert "Gate: promoted:" in out and "@champion -> version 2 (was 1)" in out
        assert f"Feedback: {FEEDBACK_TWEETS} verdicts, {FEEDBACK_TWEETS} usable" in out
        tags, champion = version_tags(cli)
        assert champion == "2"
        assert tags["2"]["challenged_version"] == "1"
        assert tags["2"]["feedback_rows"] == str(FEEDBACK_TWEETS)
        assert len(tags["2"]["feedback_hash"]) == 64
        assert tags["2"]["gate_decision"] == "promoted"
        assert tags["2"]["model_family"] == tags["1"]["model_family"] == "logistic_regression"

        # a scheduled run with nothing new since version 2: nothing to do
        idle = cli("retrain", "--min-new-feedback", "1")
        assert idle.returncode == 0, cli.explain(idle)
        assert "0 new verdicts since version 2, the champion" in " ".join(idle.stdout.split())
        assert sorted(version_tags(cli)[0]) == ["1", "2"]

        reload = client.post("/admin/reload", headers=KEY_HEADER).json()
        assert reload["changed"] and reload["version"] == "2", reload
        assert client.post("/predict", json={"text": "my flight"}).json()["model"]["version"] == "2"
    finally:
        api.stop()

    # The same tweets with shuffled labels, weighted 50: the challenger learns noise
    from ops.database import connect, feedback, new_id, utcnow

    noise = f"sqlite:///{tmp_path / 'shuffled.db'}"
    engine = connect(noise)
    labels = np.random.default_rng(0).permutation(tweets["label"].to_numpy())
    with engine.begin() as connection:
        connection.execute(
            insert(feedback),
            [
                {"id": new_id(), "text": text, "predicted_label": "positive",
                 "correct": bool(label == 1), "created_at": utcnow()}
                for text, label in zip(tweets["text"], labels, strict=True)
            ],
        )  # fmt: skip
    engine.dispose()
    worse = cli(
        "retrain", "--recipe", "champion", "--feedback-weight", "50", "--dry-run",
        BADBUZZ_DATABASE_URL=noise,
    )  # fmt: skip
    assert worse.returncode == 0, cli.explain(worse)
    out = " ".join(worse.stdout.split())
    assert "Gate: refused:" in out and "manual accuracy" in out
    assert "Dry run: nothing was logged, registered or promoted." in out
    tags, champion = version_tags(cli)
    assert (sorted(tags), champion) == (["1", "2"], "2")


def test_retrain_without_a_champion_says_what_to_do(sentiment140: Path, tmp_path: Path) -> None:
    cli = Cli(tmp_path / "home", sentiment140)
    result = cli("retrain")
    assert result.returncode == 2, cli.explain(result)
    assert "no @champion version of 'tweet-sentiment'" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr


def test_on_85_percent_negative_verdicts_the_challengers_threshold_holds(
    sentiment140: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A planted client: all 460 negative travel tweets and 81 positive ones (85 % negative),
    in shuffled time order. Chosen on such verdicts by plain accuracy, a threshold climbs
    until positive recall sits on the floor and the manual set loses points (issue 18: 0.859,
    recall 0.418, manual accuracy -8.7 points); the challenger's keeps both."""
    from ops.database import connect
    from training.feedback.challenger import RetrainConfig, retrain

    cli = Cli(tmp_path / "home", sentiment140)
    result = cli("train", "baseline", "--models", "logreg", "--sample", "2000")
    assert result.returncode == 0, cli.explain(result)
    registry(cli).set_registered_model_alias(MODEL, "champion", "1")
    from training.data.sentiment140 import read_sentiment140

    frame = read_sentiment140(sentiment140 / "sample_train.csv.gz")
    travel = frame[frame["text"].str.contains(TRAVEL, case=False, regex=True)]
    planted = pd.concat(
        [travel[travel["label"] == 0], travel[travel["label"] == 1].head(81)]
    ).sample(frac=1.0, random_state=5)
    assert planted["label"].mean() == pytest.approx(0.15, abs=0.005)
    url = f"sqlite:///{tmp_path / 'planted.db'}"
    engine = connect(url)
    store_verdicts(engine, planted)
    engine.dispose()

    for name, value in cli.env.items():
        if name.startswith(("BADBUZZ_", "MLFLOW_")):
            monkeypatch.setenv(name, value)
    from badbuzz.registry import configure_tracking
    from badbuzz.settings import TrainingSettings

    settings = TrainingSettings()
    target = configure_tracking(settings)
    outcome = retrain(
        RetrainConfig(recipe="champion", dry_run=True), settings, target, url, lambda _: None
    )
    # (here no threshold is good on both the client's and the validation scores: the
    # validation one is kept, threshold_source "validation", and holds on the client too)
    gate, manual = outcome.challenger["feedback"], outcome.challenger["manual"]
    assert gate["positive_recall"] >= 0.5, outcome.thresholds  # the floor, on 20 positives
    assert manual["positive_recall"] >= 0.6, outcome.thresholds
    assert manual["accuracy"] >= outcome.champion["manual"]["accuracy"] - 0.02
