"""What it costs that an answered prediction is stored: `/predict` on `badbuzz serve` (SQLite,
one worker, TF-IDF + logistic regression fitted on 20,000 Sentiment140 tweets, real tweets as
bodies) with predictions committed before the answer (group commit, the API's way) against
the same server storing nothing (BADBUZZ_LOG_PREDICTIONS=false): the most any way of storing
them can save. One request at a time (--calls, median and p99), then a closed loop of
--concurrency connections for --seconds (requests/s, p50, p99).

    .venv/bin/python -m bench.durable_predictions [--calls 300] [--concurrency 16] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from bench.buzz import fit_bundle
from bench.load import Load, closed_loop, percentile, real_tweets, timed_posts
from bench.report import fmt, machine_load, print_table
from tests.api.support import start_api

MODES = {"committed before the answer": "true", "not stored": "false"}


def measure(
    bundle: Path, root: Path, log: str, args: argparse.Namespace, tweets: list[str]
) -> tuple[list[float], Load]:
    settings = {
        "BADBUZZ_MODEL_BUNDLE": str(bundle),
        "BADBUZZ_RELOAD_INTERVAL_S": "0",
        "BADBUZZ_LOG_PREDICTIONS": log,
    }
    home = root / f"home-{log}"
    api = start_api(home, root, settings, name=f"store-{log}")
    try:
        url = f"{api.url}/predict"
        one = timed_posts(url, [{"text": t} for t in tweets[: args.calls]], warm_up=20)
        bodies = [json.dumps({"text": t}) for t in tweets]
        loaded = closed_loop(url, bodies, args.concurrency, args.seconds)
    finally:
        api.stop()
    return one, loaded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    print(f"bench.durable_predictions on {machine_load()}")
    tweets, _ = real_tweets(2_000)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        bundle = fit_bundle(root / "bundle")
        results = {name: measure(bundle, root, log, args, tweets) for name, log in MODES.items()}
    rows = []
    for name, (one, loaded) in results.items():
        rows.append(
            [
                name,
                fmt(statistics.median(one), 2),
                fmt(percentile(one, 99), 2),
                fmt(loaded.rps, 0),
                fmt(loaded.p50_ms, 2),
                fmt(loaded.p99_ms, 2),
                str(loaded.errors),
            ]
        )
    print(
        f"\n/predict, {args.calls} calls one at a time; {args.concurrency} connections for "
        f"{args.seconds:g} s ({next(iter(results.values()))[1].tool})"
    )
    print_table(
        [("predictions", 28), ("one p50 ms", 11), ("one p99 ms", 11), ("req/s", 7),
         ("p50 ms", 8), ("p99 ms", 8), ("errors", 7)],
        rows,
    )  # fmt: skip
    (stored_one, stored), (free_one, free) = results.values()
    latency = statistics.median(stored_one) / statistics.median(free_one)
    print(
        f"storing before the answer: one request {latency:.2f}x the median latency; under "
        f"load {stored.rps / free.rps:.2f}x the requests/s"
    )
    print(f"done on {machine_load()}")


if __name__ == "__main__":
    main()
