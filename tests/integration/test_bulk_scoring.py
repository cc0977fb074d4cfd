"""`badbuzz score` on a few thousand real tweets with a model registered in the embedded
store: on this box (chunks through the bundle) and on local Spark with a real JVM (MLflow's
spark_udf); both give the scores the API serves for the same tweets."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.api.support import start_api
from tests.archives import AWKWARD_TWEETS, write_awkward_archive
from training.data.sentiment140 import read_sentiment140

from .support import Cli

pytestmark = pytest.mark.integration

TWEETS = 3_000
MODEL_URI = "models:/tweet-sentiment/1"
SPARK = ["--engine", "spark", "--master", "local[2]"]


@pytest.fixture(scope="module", autouse=True)
def _java() -> None:
    if shutil.which("java") is None:
        pytest.fail("Spark needs a JVM: install Java 17+ (Debian: openjdk-17-jre-headless)")


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
    out = tmp_path / "scored-spark"
    result = registered(
        "score", str(archive), "--out", str(out), "--model-uri", MODEL_URI, *SPARK
    )  # fmt: skip
    assert result.returncode == 0, registered.explain(result)
    assert f"Scored {TWEETS:,} tweets" in result.stdout
    parts = sorted(out.glob("part-*.csv"))
    scored = pd.concat(pd.read_csv(part, keep_default_na=False) for part in parts)
    by_id = dict(zip(scored["tweet_id"], scored["probability_positive"], strict=True))
    original = pd.read_csv(archive, dtype={"text": str}, keep_default_na=False)
    spark_scores = [by_id[tweet_id] for tweet_id in original["tweet_id"]]
    assert spark_scores == pytest.approx(api_scores, abs=1e-6)


def test_both_engines_keep_every_row_and_its_id(registered: Cli, tmp_path: Path) -> None:
    """Tweets with line breaks, quotes, commas and a BOM: the same rows out of both engines,
    in the input's order, with the same ids, texts and scores."""
    copies = 40
    archive = write_awkward_archive(tmp_path / "awkward.csv", "\r\n", copies)
    rows = copies * len(AWKWARD_TWEETS)
    here, on_spark = tmp_path / "here.csv", tmp_path / "on-spark"
    for out, engine in ((here, ["--engine", "local"]), (on_spark, SPARK)):
        result = registered(
            "score", str(archive), "--out", str(out), "--model-uri", MODEL_URI, *engine
        )  # fmt: skip
        assert result.returncode == 0, registered.explain(result)
        said = " ".join(result.stdout.split())  # rich wraps long lines
        assert f"Scored {rows:,} tweets" in said and f"{rows:,} rows, as many as read" in said
    original = pd.read_csv(archive, dtype=str, keep_default_na=False)
    local = pd.read_csv(here, dtype=str, keep_default_na=False)
    parts = sorted(on_spark.glob("part-*.csv"))
    spark = pd.concat(pd.read_csv(part, dtype=str, keep_default_na=False) for part in parts)
    assert len(original) == rows
    columns = ["tweet_id", "text", "brand"]
    assert local[columns].values.tolist() == original[columns].values.tolist()
    assert spark[columns].values.tolist() == original[columns].values.tolist()
    assert spark["label"].tolist() == local["label"].tolist()
    assert spark["probability_positive"].astype(float).tolist() == pytest.approx(
        local["probability_positive"].astype(float).tolist(), abs=1e-9
    )


def test_a_missing_column_names_the_header(registered: Cli, archive: Path, tmp_path: Path) -> None:
    result = registered(
        "score", str(archive), "--out", str(tmp_path / "x.csv"), "--model-uri", MODEL_URI,
        "--text-column", "tweet",
    )  # fmt: skip
    assert result.returncode == 2
    assert "no column 'tweet' (the header has tweet_id, text)" in result.stderr
    assert "Traceback" not in result.stderr
