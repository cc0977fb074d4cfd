"""Bad-buzz benchmark, one run on this machine: how fast `badbuzz buzz replay` back-tests a
file, and how soon the live watch records a buzz after the tweet that crosses the baseline.

1. Replay throughput (goal: >= 2,000 tweets/s, scoring included): the 52,303 Sentiment140
   rows that carry a date, written as a CSV with a header, read (`ops.replay.read_tweets`),
   scored in time order by a real bundle and run through the detector (`ops.replay.replay`),
   --runs times; the median is kept. The bundle is --bundle, else TF-IDF (1-2 grams) and
   logistic regression fitted here on 20,000 Sentiment140 tweets (a real model's vocabulary
   and cost, written in seconds).
2. Crossing tweet to alert recorded, --trials times: the ops jobs of an API process
   (`ops.jobs.OpsJobs`: scheduler, lease, report rendered in a child process) on a SQLite
   file holding 4 days of a brand's tweets (20 an hour, 30 % negative), at the default
   BADBUZZ_BUZZ_CHECK_INTERVAL_S; then 40 negative tweets of that brand are stored at once
   (as the API's writer stores them) and the time to the buzz alert's row is taken. Each
   trial uses a new brand and starts at a random moment of the interval. Also the watch's
   own work for one buzz (scan, report, store), timed alone (cold: matplotlib imported;
   warm): the rest of the latency is the wait for the next check.

    .venv/bin/python -m bench.buzz [--runs 3] [--trials 5] [--bundle DIR]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import random
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.engine import Engine

from badbuzz.bundle.model import ModelBundle
from badbuzz.settings import OpsSettings
from bench.report import fmt, machine_load, print_table
from ops.alerts import recent_alerts
from ops.brands import BrandMatcher
from ops.buzz_watch import BuzzWatch
from ops.database import alerts, connect, new_id, predictions, utcnow
from ops.jobs import OpsJobs
from ops.latency import LatencyRecorder
from ops.replay import read_tweets, replay
from ops.rules import BUZZ
from tests.shared_data import shared_sentiment140

THROUGHPUT_GOAL = 2_000.0
TRAIN_TWEETS = 20_000
HISTORY_HOURS = 96  # four days: the watch judges a brand after three
SPIKE = 40
ALERT_WAIT_S = 60.0
CARD = {"name": "tweet-sentiment", "version": "bench"}


def fit_bundle(directory: Path) -> Path:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from badbuzz.text import NormalizationConfig
    from training.data.sentiment140 import read_sentiment140
    from training.export.sklearn_bundle import write_sklearn_bundle

    tweets = read_sentiment140(shared_sentiment140() / "sample_train.csv.gz")
    tweets = tweets.sample(TRAIN_TWEETS, random_state=0)
    pipeline = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2), LogisticRegression(max_iter=1000)
    )
    pipeline.fit(tweets["text"].tolist(), tweets["label"].tolist())
    metadata = {"model_family": "logreg", "embedding_type": "tfidf"}
    return write_sklearn_bundle(directory, pipeline, NormalizationConfig(), 0.5, metadata)


def dated_rows_csv(path: Path) -> int:
    with gzip.open(shared_sentiment140() / "sample_train.csv.gz", "rt", encoding="latin-1") as f:
        rows = [row for row in csv.reader(f) if row[2]]
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["polarity", "id", "date", "query", "user", "text"])
        writer.writerows(rows)
    return len(rows)


def measure_replay(source: Path, bundle: ModelBundle, runs: int) -> None:
    settings = OpsSettings(_env_file=None)  # type: ignore[call-arg]
    totals, replays, tweets, alerts_found = [], [], 0, 0
    for _ in range(runs):
        started = time.perf_counter()
        rows = read_tweets(source, "text", "date", None, BrandMatcher(settings.brands))
        result = replay(rows, bundle, settings)
        totals.append(time.perf_counter() - started)
        replays.append(result.seconds)
        tweets, alerts_found = result.tweets, len(result.buzzes)
    total, scored = statistics.median(totals), statistics.median(replays)
    print(f"\n1. Replay of {tweets:,} dated Sentiment140 tweets, median of {runs} runs")
    print_table(
        [("", 34), ("seconds", 9), ("tweets/s", 10)],
        [
            ["read + sort + score + detect", fmt(total, 2), fmt(tweets / total, 0)],
            ["score + detect (file read)", fmt(scored, 2), fmt(tweets / scored, 0)],
        ],
    )
    verdict = "met" if tweets / total >= THROUGHPUT_GOAL else "NOT met"
    print(f"goal >= {THROUGHPUT_GOAL:,.0f} tweets/s end to end: {verdict}; {alerts_found} alerts")


def store_history(engine: Engine, brand: str, seed: int) -> None:
    draw = random.Random(seed)
    now = utcnow()
    rows = []
    for minute in range(HISTORY_HOURS * 60, 0, -3):
        negative = draw.random() < 0.3
        rows.append(prediction(brand, now - timedelta(minutes=minute), negative))
    with engine.begin() as connection:
        connection.execute(insert(predictions), rows)


def prediction(brand: str, at: object, negative: bool) -> dict[str, object]:
    return {
        "id": new_id(),
        "text": "worst delay ever, stuck on the tarmac" if negative else "lovely crew",
        "label": "negative" if negative else "positive",
        "probability_positive": 0.05 if negative else 0.9,
        "model_name": "tweet-sentiment",
        "model_version": "bench",
        "created_at": at,
        "tweeted_at": at,
        "brand": brand,
    }


def alert_of(engine: Engine, brand: str) -> bool:
    with engine.connect() as connection:
        return bool(recent_alerts(connection, 1, alerts.c.rule == BUZZ, alerts.c.brand == brand))


def measure_alert_latency(home: Path, trials: int) -> None:
    settings = OpsSettings(_env_file=None, home=home)  # type: ignore[call-arg]
    home.mkdir(parents=True, exist_ok=True)
    engine = connect(settings.resolved_database_url)
    for trial in range(trials + 2):  # two brands' history for the direct timings below
        store_history(engine, f"Brand{trial}", trial)
    jobs = OpsJobs(settings, engine, lambda: CARD, LatencyRecorder("bench"))
    jobs.start()
    latencies = []
    try:
        time.sleep(2 * settings.buzz.check_interval_s)  # every brand's baseline learned
        pause = random.Random(0)
        for trial in range(trials):
            brand = f"Brand{trial}"
            # at a random moment of the check interval, as tweets come
            time.sleep(pause.uniform(0, settings.buzz.check_interval_s))
            with engine.begin() as connection:
                now = utcnow()
                connection.execute(
                    insert(predictions), [prediction(brand, now, True) for _ in range(SPIKE)]
                )
            stored = time.monotonic()
            while not alert_of(engine, brand):
                if time.monotonic() - stored > ALERT_WAIT_S:
                    raise SystemExit(f"no buzz alert for {brand} within {ALERT_WAIT_S:.0f} s")
                time.sleep(0.05)
            latencies.append(time.monotonic() - stored)
    finally:
        jobs.stop()
    # the watch's own work for one buzz, alone: scan, read the report's rows, render, store;
    # the first in this process imports matplotlib (the jobs render in a warm child process)
    watch = BuzzWatch(settings)
    work = []
    for brand in (f"Brand{trials}", f"Brand{trials + 1}"):
        with engine.begin() as connection:
            now = utcnow()
            connection.execute(
                insert(predictions), [prediction(brand, now, True) for _ in range(SPIKE)]
            )
        started = time.perf_counter()
        [(buzz, _)] = watch.check(engine, utcnow(), CARD, new_id)
        work.append(time.perf_counter() - started)
        assert buzz.brand == brand
    with engine.connect() as connection:
        stored_rows = connection.execute(select(predictions.c.id)).all()
    engine.dispose()
    print(
        f"\n2. Crossing tweet stored -> buzz alert recorded ({trials} trials, check every "
        f"{settings.buzz.check_interval_s:g} s, {len(stored_rows):,} predictions stored)"
    )
    print_table(
        [("", 34), ("seconds", 9)],
        [
            ["median", fmt(statistics.median(latencies), 2)],
            ["max", fmt(max(latencies), 2)],
            ["one check finding it: cold", fmt(work[0], 2)],
            ["one check finding it: warm", fmt(work[1], 2)],
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--bundle", type=Path, help="a bundle folder; default: fitted here")
    args = parser.parse_args()
    print(f"bench.buzz on {machine_load()}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        bundle_dir = args.bundle or fit_bundle(folder / "bundle")
        bundle = ModelBundle.load(bundle_dir)
        source = folder / "sentiment140-dated.csv"
        dated_rows_csv(source)
        measure_replay(source, bundle, args.runs)
        measure_alert_latency(folder / "home", args.trials)
    print(f"\ndone on {machine_load()}")


if __name__ == "__main__":
    main()
