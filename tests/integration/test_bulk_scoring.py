"""`badbuzz score` on a few thousand real tweets with a model registered in the embedded
store: on this box (chunks through the bundle) and on local Spark with a real JVM (MLflow's
spark_udf); both give the scores the API serves for the same tweets."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.api.support import start_api
from training.data.sentiment140 import read_sentiment140

from .support import Cli

pytestmark = pytest.mark.integration

TWEETS = 3_000
MODEL_URI = "models:/tweet-sentiment/1"


@pytest.fixture(scope="module")
def registered(sentiment140: Path, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    cli = Cli(tmp_path_factory.mktemp("score") / "home", sentiment140)
    trained = cli("train", "baseline", "--models", "logreg", "--sample", "2000")
    assert trained.returncode == 0, cli.explain(trained)
    return cli


@pytest.fixture(scope="module")
def archive(sentiment140: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real tweets (commas, quotes, emoji and all) as a CSV with a header."""
    frame = read_sentiment140(sentiment140 / "sample_train.csv.gz")
    frame = frame.sample(TWEETS, random_state=7)[["text"]].reset_index(names="tweet_id")
    path = tmp_path_factory.mktemp("archive") / "tweets.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def api_scores(
    registered: Cli, archive: Path, tmp_path_factory: pytest.TempPathFactory
) -> list[float]:
    from mlflow import MlflowClient

    store = f"sqlite:///{registered.home / 'mlflow' / 'mlflow.db'}"
    MlflowClient(store, store).set_registered_model_alias("tweet-sentiment", "champion", "1")
    api = start_api(
        registered.home, tmp_path_factory.mktemp("api"), {"BADBUZZ_MODEL_ALIAS": "champion"}
    )
    try:
        texts = pd.read_csv(archive, dtype=str, keep_default_na=False)["text"].tolist()
        scores: list[float] = []
        client = api.client()
        for start in range(0, len(texts), 1_000):
            answer = client.post("/predict/batch", json={"texts": texts[start : start + 1_000]})
            assert answer.status_code == 200, answer.text
            scores += [p["probability_positive"] for p in answer.json()["predictions"]]
        return scores
    finally:
        api.stop()


def test_scoring_here_gives_the_apis_scores(
    registered: Cli, archive: Path, api_scores: list[float], tmp_path: Path
) -> None:
    out = tmp_path / "scored.csv"
    result = registered("score", str(archive), "--out", str(out), "--model-uri", MODEL_URI)
    assert result.returncode == 0, registered.explain(result)
    assert f"Scored {TWEETS:,} tweets" in result.stdout and "tweets/s" in result.stdout
    scored = pd.read_csv(out, dtype={"text": str}, keep_default_na=False)
    original = pd.read_csv(archive, dtype={"text": str}, keep_default_na=False)
    assert scored["tweet_id"].tolist() == original["tweet_id"].tolist()
    assert scored["probability_positive"].tolist() == pytest.approx(api_scores, abs=1e-6)


def test_scoring_on_local_spark_gives_the_apis_scores(
    registered: Cli, archive: Path, api_scores: list[float], tmp_path: Path
) -> None:
    if shutil.which("java") is None:
        pytest.fail("Spark needs a JVM: install Java 17+ (Debian: openjdk-17-jre-headless)")
    out = tmp_path / "scored-spark"
    result = registered(
        "score", str(archive), "--out", str(out), "--model-uri", MODEL_URI,
        "--engine", "spark", "--master", "local[2]",
    )  # fmt: skip
    assert result.returncode == 0, registered.explain(result)
    assert f"Scored {TWEETS:,} tweets" in result.stdout
    parts = sorted(out.glob("part-*.csv"))
    scored = pd.concat(pd.read_csv(part, keep_default_na=False) for part in parts)
    by_id = dict(zip(scored["tweet_id"], scored["probability_positive"], strict=True))
    original = pd.read_csv(archive, dtype={"text": str}, keep_default_na=False)
    spark_scores = [by_id[tweet_id] for tweet_id in original["tweet_id"]]
    assert spark_scores == pytest.approx(api_scores, abs=1e-6)


def test_a_missing_column_names_the_header(registered: Cli, archive: Path, tmp_path: Path) -> None:
    result = registered(
        "score", str(archive), "--out", str(tmp_path / "x.csv"), "--model-uri", MODEL_URI,
        "--text-column", "tweet",
    )  # fmt: skip
    assert result.returncode == 2
    assert "no column 'tweet' (the header has tweet_id, text)" in result.stderr
    assert "Traceback" not in result.stderr
