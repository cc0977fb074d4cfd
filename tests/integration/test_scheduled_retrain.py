"""The scheduled retrain with the real `badbuzz retrain` as its child: a small champion in the
embedded MLflow store, users' verdicts in the API's database; too few new ones are a `skipped`
run that registers nothing, enough of them a run that registers the challenger and records
what the gate decided, as the registry holds it."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from badbuzz.settings import OpsSettings, RetrainSettings
from ops.database import connect
from ops.scheduled_retrain import RETRAIN, ScheduledRetrain

from .support import Cli
from .test_retrain import registry, version_tags
from .travel import store_verdicts, travel_tweets

pytestmark = pytest.mark.integration

MODEL = "tweet-sentiment"


def test_the_scheduled_retrain_skips_then_retrains_for_real(
    sentiment140: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = Cli(tmp_path / "home", sentiment140)
    trained = cli("train", "baseline", "--models", "logreg", "--sample", "2000")
    assert trained.returncode == 0, cli.explain(trained)
    registry(cli).set_registered_model_alias(MODEL, "champion", "1")
    # the API process's environment: the CLI user's, run where no project .env is read
    for name in list(os.environ):
        if name.startswith(("BADBUZZ_", "MLFLOW_")):
            monkeypatch.delenv(name)
    for name, value in cli.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    settings = OpsSettings(retrain=RetrainSettings(cron="0 3 * * *", min_new_verdicts=100))
    engine = connect(settings.resolved_database_url)
    tweets = travel_tweets(sentiment140)

    def verdicts(rows: range) -> None:
        store_verdicts(engine, tweets.iloc[rows.start : rows.stop])

    # the champion's own recipe: the default (MiniLM embeddings of 25,000 tweets) is minutes
    # of CPU here, and this test is about the schedule, not the recipe
    retrain = ScheduledRetrain(settings, engine, command=(*RETRAIN, "--recipe", "champion"))
    verdicts(range(40))
    skipped = retrain.run(datetime(2026, 12, 3, 3, 0, tzinfo=UTC))

    assert skipped is not None and skipped.outcome == "skipped", skipped
    assert skipped.reason is not None
    assert skipped.reason.startswith("40 new verdicts since version 1, the champion")
    assert sorted(version_tags(cli)[0]) == ["1"]  # nothing trained, nothing registered

    verdicts(range(40, len(tweets)))
    ran = retrain.run(datetime(2026, 12, 4, 3, 0, tzinfo=UTC))

    assert ran is not None and ran.outcome in ("promoted", "refused"), ran
    assert (ran.champion_version, ran.new_version) == ("1", "2")
    tags, champion = version_tags(cli)
    assert tags["2"]["gate_decision"] == ran.outcome
    assert champion == ("2" if ran.outcome == "promoted" else "1")
    assert ran.reason is not None and ran.reason.startswith(f"{ran.outcome}:")
