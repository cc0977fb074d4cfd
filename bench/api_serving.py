"""Serving benchmark, one run on this machine: `badbuzz serve` against `mlflow models serve` on
the same registered model, plus the API's open-loop tail latency, batch latency, memory and
cold start (sklearn bundle, and a small TFLite bundle when the TFLite runtime works).

It trains `logreg` with the CLI on a stratified --sample of the shared Sentiment140 subset
(0: all of it) into a temporary embedded MLflow store, promotes it, then measures:

1. closed loop at --concurrency on one tweet per request: `mlflow models serve` (/invocations,
   dataframe_records) and `badbuzz serve` with 1 and 2 workers (/predict): throughput and
   p50/p99 latency, with `wrk` when installed, else a Python (httpx, asyncio) generator in a
   separate process; ratios badbuzz/mlflow (goals: >= 5x throughput, <= 1/5 p50);
2. /predict at a fixed --rate (open loop, latency counted from each request's scheduled time,
   so queueing shows) for --rate-seconds, from a separate Python process;
3. /predict/batch of 1,000 tweets: median of --batch-calls calls (goal < 200 ms), and the
   bundle's own cost per tweet in batches of 1, 8 and 64 (what dynamic batching saves);
4. RSS of the serving process after warm-up, and cold start (process start to
   /health/ready 200) from a cached bundle: asking the embedded store, asking `mlflow server`
   (the NAS's case), or given the bundle file (goals: <= 250 MB for a TFLite bundle with no
   TensorFlow loaded, <= 3 s).

Every process it starts runs in its own process group and is stopped on exit, error or ^C.

    .venv/bin/python -m bench.api_serving [--sample 30000] [--seconds 15] [--no-tflite]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

import httpx

from bench import footprint, tflite_bundle
from bench.load import closed_loop, open_loop, real_tweets, timed_posts
from bench.report import ServingReport, machine_load
from tests.badbuzz_cli import BADBUZZ, run_badbuzz
from tests.processes import NO_TELEMETRY, Server, clean_env, free_port

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MODEL = "tweet-sentiment"
READY = "/health/ready"


def server_env(settings: Mapping[str, str]) -> dict[str, str]:
    # as in an activated venv: `mlflow models serve` runs `uvicorn` from PATH
    path = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    return clean_env({"PATH": path, **NO_TELEMETRY, **settings})


def start_badbuzz(
    name: str, home: Path, tmp: Path, settings: Mapping[str, str], workers: int = 1
) -> Server:
    port = free_port()
    base = {
        "BADBUZZ_HOME": str(home),
        "BADBUZZ_RELOAD_INTERVAL_S": "0",
        # serving is measured here, not the store's write rate (SQLite: a few thousand rows
        # a second): back-to-back batches of 1,000 would fill the default queue and get 503
        "BADBUZZ_MAX_UNWRITTEN_PREDICTIONS": "1000000",
    }
    env = server_env({**base, **settings})
    command = [str(BADBUZZ), "serve", "--port", str(port), "--workers", str(workers)]
    return Server.start(name, command, port=port, env=env, workdir=tmp / name)


def start_mlflow(name: str, tracking_uri: str, version: str, tmp: Path) -> Server:
    port = free_port()
    env = server_env({"MLFLOW_TRACKING_URI": tracking_uri})
    command = [str(BIN / "mlflow"), "models", "serve", "-m", f"models:/{MODEL}/{version}",
               "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)]  # fmt: skip
    return Server.start(name, command, port=port, env=env, workdir=tmp / name)


def start_tracking_server(home: Path, tmp: Path) -> Server:
    """`mlflow server` on the benchmark's embedded store (its artifacts stay local files)."""
    port = free_port()
    env = server_env({"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})
    store = home / "mlflow"
    database = f"sqlite:///{store / 'mlflow.db'}"
    command = [str(BIN / "mlflow"), "server", "--backend-store-uri", database,
               "--default-artifact-root", (store / "artifacts").as_uri(), "--no-serve-artifacts",
               "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]  # fmt: skip
    server = Server.start("tracking-server", command, port=port, env=env, workdir=tmp / "tracking")
    try:
        footprint.ready_after(server, "/health")
    except BaseException:
        server.stop()
        raise
    return server


def run_cli(args: Sequence[str], env: Mapping[str, str], cwd: Path) -> None:
    result = run_badbuzz(*args, home=None, base_env=env, cwd=cwd, timeout=3600)
    if result.returncode != 0:
        raise RuntimeError(f"badbuzz {' '.join(args)} failed:\n{result.stderr[-4000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=30_000, help="tweets to train on; 0: all")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=15, help="closed-loop run length")
    parser.add_argument("--rate", type=float, default=200, help="open-loop requests/s")
    parser.add_argument("--rate-seconds", type=float, default=20)
    parser.add_argument("--batch-calls", type=int, default=20)
    parser.add_argument("--cold-starts", type=int, default=3)
    parser.add_argument("--tflite", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()

    def terminate(signum: int, frame: Any) -> NoReturn:
        raise SystemExit(128 + signum)  # so that every server is stopped on the way out

    signal.signal(signal.SIGTERM, terminate)
    tmp = Path(tempfile.mkdtemp(prefix="badbuzz-bench-"))
    report = ServingReport("mlflow models serve", args.seconds, args.rate, args.rate_seconds)
    began = time.perf_counter()
    print(f"badbuzz serving benchmark; {machine_load()}; work folder {tmp}", flush=True)
    try:
        measure(args, tmp, report)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    report.print("badbuzz serving benchmark", time.perf_counter() - began)


def measure(args: argparse.Namespace, tmp: Path, report: ServingReport) -> None:
    home = tmp / "home"
    configured = os.environ.get("BADBUZZ_SENTIMENT140")
    data = str(Path(configured or REPO.parent / "shared/data/sentiment140").resolve())
    os.environ["BADBUZZ_SENTIMENT140"] = data  # for real_tweets, here and in the TFLite build
    cli_env = clean_env({"BADBUZZ_HOME": str(home), "BADBUZZ_SENTIMENT140": data})
    sample = ["--sample", str(args.sample)] if args.sample else []
    started = time.perf_counter()
    run_cli(["train", "baseline", "--models", "logreg", *sample], cli_env, tmp)
    run_cli(["promote"], cli_env, tmp)
    trained_on = f"{args.sample:,}-tweet sample" if args.sample else "whole shared subset"
    report.notes.append(
        f"model: logreg (TF-IDF 1-2-grams + VADER features) on a {trained_on} of "
        f"{Path(data).name}, registered as version 1, @champion; trained in "
        f"{time.perf_counter() - started:.0f} s"
    )
    tweets, _ = real_tweets(1000)
    single = [json.dumps({"text": t}) for t in tweets[:300]]
    registry = {"BADBUZZ_MODEL_ALIAS": "champion"}

    # 1-3: mlflow, then badbuzz with 1 and 2 workers (one server at a time)
    tracking_uri = f"sqlite:///{home / 'mlflow' / 'mlflow.db'}"
    with start_mlflow("mlflow", tracking_uri, "1", tmp) as mlflow:
        reference = measure_mlflow(args, mlflow, tweets, report)
    for workers in (1, 2):
        name = f"badbuzz serve, {workers} worker{'s' * (workers > 1)}"
        with start_badbuzz(f"badbuzz-{workers}w", home, tmp, registry, workers) as api:
            footprint.ready_after(api, READY)
            with httpx.Client(timeout=30) as client:
                served = client.post(api.url + "/predict", json={"text": tweets[0]}).json()
            if abs(served["probability_positive"] - reference) > 1e-9:
                report.notes.append(
                    f"WARNING: {name} scores {served['probability_positive']} where mlflow "
                    f"scores {reference}"
                )
            report.closed[name] = closed_loop(
                api.url + "/predict", single, args.concurrency, args.seconds
            )
            report.rss[f"{name} (registry + cache, sklearn)"] = footprint.rss_text(api)
            report.open_loop[name] = open_loop(
                api.url + "/predict", single, args.rate, args.rate_seconds
            )
            if workers == 1:
                report.batch_ms["badbuzz /predict/batch"] = timed_posts(
                    api.url + "/predict/batch", [{"texts": tweets}] * args.batch_calls, warm_up=2
                )
        stored_errors = api.log.read_text(errors="replace").count("could not store predictions")
        if stored_errors:
            report.notes.append(f"{name}: {stored_errors} failed prediction-store flushes")

    # 4. cold start and memory from a cached bundle
    cached = home / "model-cache" / MODEL / "1"
    report.model_ms = model_call_costs(cached, tweets)
    report.cold["badbuzz, registry + warm cache (sklearn)"] = footprint.cold_starts(
        lambda i: start_badbuzz(f"cold-registry-{i}", home, tmp, registry), READY, args.cold_starts
    )
    with start_tracking_server(home, tmp) as server:
        # the NAS's case: the registry is a tracking server (REST), not an embedded store
        remote = {**registry, "MLFLOW_TRACKING_URI": server.url}
        with start_badbuzz("fill-cache", tmp / "h-remote", tmp, remote) as api:
            footprint.ready_after(api, READY)  # downloads the bundle into the cache
        report.cold["badbuzz, tracking server + warm cache (sklearn)"] = footprint.cold_starts(
            lambda i: start_badbuzz(f"cold-remote-{i}", tmp / "h-remote", tmp, remote),
            READY,
            args.cold_starts,
        )
    measure_local_bundle(args, report, "sklearn", cached, tmp, tweets)
    if args.tflite:
        try:
            bundle = tflite_bundle.build_in_child(tmp / "tflite-bundle")
        except RuntimeError as error:
            report.notes.append(f"TFLite bundle not built, sklearn figures only: {error}")
        else:
            measure_local_bundle(args, report, "tflite", bundle, tmp, tweets)


def measure_mlflow(
    args: argparse.Namespace, mlflow: Server, tweets: list[str], report: ServingReport
) -> float:
    """`mlflow models serve`'s figures; its score of the first tweet, for the parity check."""
    bodies = [json.dumps({"dataframe_records": [{"text": t}]}) for t in tweets[:300]]
    url = mlflow.url + "/invocations"
    report.cold[f"{report.baseline} (registry)"] = [footprint.ready_after(mlflow, "/ping")]
    with httpx.Client(timeout=30) as client:
        answer = client.post(url, json={"dataframe_records": [{"text": tweets[0]}]}).json()
    report.closed[report.baseline] = closed_loop(url, bodies, args.concurrency, args.seconds)
    report.batch_ms["mlflow /invocations"] = timed_posts(
        url,
        [{"dataframe_records": [{"text": t} for t in tweets]}] * max(5, args.batch_calls // 2),
        warm_up=2,
    )
    report.rss[report.baseline] = footprint.rss_text(mlflow)
    report.open_loop[report.baseline] = open_loop(url, bodies, args.rate, args.rate_seconds)
    reference: float = answer["predictions"][0]["probability_positive"]
    return reference


def model_call_costs(bundle_dir: Path, tweets: list[str], calls: int = 300) -> dict[int, float]:
    """Median ms per tweet of the bundle's own predict_proba, by batch size: what the API's
    dynamic batching saves per request."""
    from badbuzz.bundle.model import ModelBundle

    bundle = ModelBundle.load(bundle_dir)
    costs = {}
    for size in (1, 8, 64):
        times = []
        for i in range(calls):
            batch = [tweets[(i * size + j) % len(tweets)] for j in range(size)]
            started = time.perf_counter()
            bundle.predict_proba(batch)
            times.append((time.perf_counter() - started) * 1000 / size)
        costs[size] = statistics.median(times)
    return costs


def measure_local_bundle(
    args: argparse.Namespace,
    report: ServingReport,
    kind: str,
    bundle: Path,
    tmp: Path,
    tweets: list[str],
) -> None:
    """Cold starts of an API on a local bundle (BADBUZZ_MODEL_BUNDLE); then its RSS after
    warm-up (500 single + 5 batch requests), whether TensorFlow got loaded, and its
    single-request latency at concurrency 1."""
    local = {"BADBUZZ_MODEL_BUNDLE": str(bundle)}
    report.cold[f"badbuzz, BADBUZZ_MODEL_BUNDLE ({kind})"] = footprint.cold_starts(
        lambda i: start_badbuzz(f"cold-{kind}-{i}", tmp / f"h-{kind}-{i}", tmp, local),
        READY,
        args.cold_starts,
    )
    with start_badbuzz(f"rss-{kind}", tmp / f"h-rss-{kind}", tmp, local) as api:
        footprint.ready_after(api, READY)
        times = timed_posts(api.url + "/predict", [{"text": t} for t in tweets[:500]])
        timed_posts(api.url + "/predict/batch", [{"texts": tweets}] * 5)
        runtime = httpx.get(api.url + "/model", timeout=60).json()["runtime"]
        total = sum(footprint.rss_mb(api))
        tf = "TensorFlow LOADED" if footprint.tensorflow_loaded(api) else "no TensorFlow loaded"
    report.rss[f"badbuzz serve, 1 worker, local {kind} bundle"] = (
        f"{total:.0f} MB (runtime {runtime}, {tf}; /predict at c=1: median "
        f"{statistics.median(times):.2f} ms)"
    )


if __name__ == "__main__":
    main()
