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
   /health/ready 200) from a cached bundle (goals: <= 250 MB for a TFLite bundle with no
   TensorFlow loaded, <= 3 s).

Every process it starts runs in its own process group and is stopped on exit, error or ^C.

    .venv/bin/python bench/api_serving.py [--sample 30000] [--seconds 15] [--no-tflite]
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MODEL = "tweet-sentiment"
CLIENT_ENV_PREFIXES = ("AWS_", "MLFLOW_", "BADBUZZ_")


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(CLIENT_ENV_PREFIXES)}
    # as in an activated venv: `mlflow models serve` runs `uvicorn` from PATH
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update({"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"})
    env.update(extra)
    return env


STARTED: list[Service] = []


@dataclass
class Service:
    """A server process in its own process group, its output in `log`."""

    name: str
    command: list[str]
    env: dict[str, str]
    workdir: Path
    port: int
    ready_path: str
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def start(self) -> Service:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as out:
            self.started_at = time.perf_counter()
            self.process = subprocess.Popen(
                self.command,
                env=self.env,
                cwd=self.workdir,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        STARTED.append(self)
        return self

    def wait_ready(self, timeout_s: float = 180.0) -> float:
        """Seconds from process start to the first 200 on the ready path."""
        assert self.process is not None
        deadline = time.perf_counter() + timeout_s
        with httpx.Client(timeout=2.0) as client:
            while time.perf_counter() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited:\n{self.tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(self.url + self.ready_path).status_code == 200:
                        return time.perf_counter() - self.started_at
                time.sleep(0.02)
        raise RuntimeError(f"{self.name} not ready after {timeout_s} s:\n{self.tail()}")

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def tree(self) -> list[psutil.Process]:
        assert self.process is not None
        root = psutil.Process(self.process.pid)
        return [root, *root.children(recursive=True)]

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        for sig, grace in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.process.wait(timeout=grace)
                return
            except subprocess.TimeoutExpired:
                continue


def stop_all() -> None:
    while STARTED:
        STARTED.pop().stop()


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


# --------------------------------------------------------------------------- load


@dataclass(frozen=True)
class Load:
    tool: str
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float = float("nan")
    late_p99_ms: float = float("nan")  # open loop: how late the generator sent (its own lag)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def lua_string(text: str) -> str:
    level = 1
    while f"]{'=' * level}]" in text:
        level += 1
    return f"[{'=' * level}[{text}]{'=' * level}]"


def wrk_closed_loop(
    url: str, bodies: Sequence[str], concurrency: int, seconds: float, tmp: Path
) -> Load:
    script = tmp / f"bodies-{len(bodies)}-{abs(hash(url))}.lua"
    script.write_text(
        "local bodies = {\n"
        + ",\n".join(lua_string(body) for body in bodies)
        + "\n}\nlocal i = 0\nrequest = function()\n  i = i + 1\n"
        '  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, '
        "bodies[(i % #bodies) + 1])\nend\n"
    )
    threads = min(concurrency, 2)
    result = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{seconds:.0f}s", "--latency",
         "-s", str(script), url],
        capture_output=True, text=True, check=True, timeout=seconds + 60,
    )  # fmt: skip
    out = result.stdout

    def duration_ms(percent: str) -> float:
        match = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        if not match:
            raise RuntimeError(f"no {percent}% latency in wrk output:\n{out}")
        return float(match[1]) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[match[2]]

    total = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", out)
    if not total:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    elapsed = float(total[2]) * {"ms": 1e-3, "s": 1.0, "m": 60.0}[total[3]]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    errors = int(bad[1]) if bad else 0
    if socket_errors:
        errors += sum(int(socket_errors[i]) for i in range(1, 5))
    max_match = re.search(r"Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)", out)
    max_ms = (
        float(max_match[1]) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[max_match[2]]
        if max_match
        else float("nan")
    )
    return Load(
        f"wrk -t{threads} -c{concurrency}", int(total[1]), errors, elapsed,
        duration_ms("50"), duration_ms("99"), max_ms,
    )  # fmt: skip


def python_load(
    mode: str, url: str, bodies: Sequence[str], seconds: float, tmp: Path, *,
    concurrency: int = 16, rate: float = 200.0,
) -> Load:  # fmt: skip
    """The Python generator below, in its own process (so it does not share this GIL)."""
    body_file = tmp / f"bodies-{len(bodies)}.json"
    body_file.write_text(json.dumps(list(bodies)))
    result = subprocess.run(
        [sys.executable, __file__, "_load", mode, url, str(body_file), str(seconds),
         str(concurrency), str(rate)],
        capture_output=True, text=True, check=True, timeout=seconds + 120,
    )  # fmt: skip
    values = json.loads(result.stdout.strip().splitlines()[-1])
    return Load(**values)


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


async def _generate(
    mode: str, url: str, bodies: list[bytes], seconds: float, concurrency: int, rate: float
) -> Load:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    headers = {"content-type": "application/json"}
    latencies: list[float] = []
    late: list[float] = []
    errors = 0
    async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:
        loop = asyncio.get_running_loop()

        async def send(body: bytes) -> bool:
            try:
                response = await client.post(url, content=body, headers=headers)
            except httpx.HTTPError:
                return False
            return response.status_code == 200

        for body in bodies[:20]:  # open the connections, warm the path
            await send(body)
        start = loop.time() + 0.1
        if mode == "open":
            count = int(rate * seconds)

            async def scheduled(i: int) -> None:
                nonlocal errors
                due = start + i / rate
                await asyncio.sleep(max(0.0, due - loop.time()))
                late.append(loop.time() - due)
                ok = await send(bodies[i % len(bodies)])
                latencies.append(loop.time() - due)  # from the schedule: queueing included
                errors += not ok

            await asyncio.gather(*(scheduled(i) for i in range(count)))
        else:
            stop_at = start + seconds

            async def worker(offset: int) -> None:
                nonlocal errors
                await asyncio.sleep(max(0.0, start - loop.time()))
                i = offset
                while loop.time() < stop_at:
                    sent = loop.time()
                    ok = await send(bodies[i % len(bodies)])
                    latencies.append(loop.time() - sent)
                    errors += not ok
                    i += concurrency

            await asyncio.gather(*(worker(k) for k in range(concurrency)))
        elapsed = loop.time() - start
    tool = (
        f"python open loop {rate:g}/s" if mode == "open" else f"python closed loop c={concurrency}"
    )
    return Load(
        tool,
        len(latencies),
        errors,
        elapsed,
        1000 * _percentile(latencies, 50),
        1000 * _percentile(latencies, 99),
        1000 * max(latencies, default=float("nan")),
        1000 * _percentile(late, 99) if late else float("nan"),
    )


def load_main(argv: list[str]) -> None:
    mode, url, body_file, seconds, concurrency, rate = argv
    bodies = [body.encode() for body in json.loads(Path(body_file).read_text())]
    result = asyncio.run(
        _generate(mode, url, bodies, float(seconds), int(concurrency), float(rate))
    )
    print(json.dumps(result.__dict__))


# --------------------------------------------------------------------------- model setup


def run_cli(args: Sequence[str], env: Mapping[str, str], cwd: Path) -> str:
    result = subprocess.run(
        [str(BIN / "badbuzz"), *args], env=dict(env), cwd=cwd, capture_output=True, text=True,
        check=False, timeout=3600,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"badbuzz {' '.join(args)} failed:\n{result.stderr[-4000:]}")
    return result.stdout


def real_tweets(count: int, seed: int = 7) -> tuple[list[str], list[int]]:
    """Real tweets (and labels) from the shared training subset."""
    from training.data import read_sentiment140
    from training.settings import TrainingSettings
    from training.sources import locate_training
    from training.split import stratified_sample

    source = locate_training(TrainingSettings())
    frame = stratified_sample(read_sentiment140(source.path, member=source.member), count, seed)
    return [str(text) for text in frame["text"]], [int(label) for label in frame["label"]]


def build_tflite_main(argv: list[str]) -> None:
    """In its own process (imports TensorFlow): a small LSTM over 4,000 tweets, one epoch,
    exported through training.runtimes.tflite."""
    out = Path(argv[0])
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import numpy as np

    from training.embeddings import WordVectors, embedding_matrix
    from training.networks import NetworkConfig, build_network
    from training.runtimes.tflite import check_parity, export_tflite, write_bundle
    from training.text import NormalizationConfig, normalize_many
    from training.tokenizer import Tokenizer

    texts, labels = real_tweets(4000, seed=3)
    normalized = normalize_many(texts)
    tokenizer = Tokenizer.build(normalized, 40)
    matrix = embedding_matrix(tokenizer, WordVectors({}, 64, "random"), seed=0)
    keras.utils.set_random_seed(0)
    model = build_network(NetworkConfig("lstm", units=32), matrix, 40)
    ids = tokenizer.encode(normalized)
    model.fit(ids, np.asarray(labels), epochs=1, batch_size=128, verbose=0)
    content = export_tflite(model, 40)
    check_parity(model, content, tokenizer, ids[:200], 1e-4)
    write_bundle(out, content, tokenizer, NormalizationConfig(), 0.5, {"model_family": "lstm"})
    print(json.dumps({"bundle": str(out)}))


# --------------------------------------------------------------------------- measurements


@dataclass
class Report:
    closed: dict[str, Load] = field(default_factory=dict)
    open_loop: dict[str, Load] = field(default_factory=dict)
    batch_ms: dict[str, list[float]] = field(default_factory=dict)
    rss: dict[str, str] = field(default_factory=dict)
    cold: dict[str, list[float]] = field(default_factory=dict)
    model_ms: dict[int, float] = field(default_factory=dict)  # per tweet, by batch size
    notes: list[str] = field(default_factory=list)


def rss_mb(service: Service) -> tuple[float, list[float]]:
    per = [p.memory_info().rss / 2**20 for p in service.tree()]
    return sum(per), per


def loaded_libraries(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return ""


def tensorflow_loaded(service: Service) -> bool:
    """TensorFlow's own package mapped into any process of the service (LiteRT's libraries
    live in ai_edge_litert/, so they do not count)."""
    pattern = re.compile(r"/site-packages/tensorflow/|libtensorflow_(framework|cc)")
    return any(pattern.search(loaded_libraries(p.pid)) for p in service.tree())


def badbuzz_service(
    name: str, home: Path, tmp: Path, settings: Mapping[str, str], workers: int = 1
) -> Service:
    port = free_port()
    env = clean_env({"BADBUZZ_HOME": str(home), "BADBUZZ_RELOAD_INTERVAL_S": "0", **settings})
    command = [str(BIN / "badbuzz"), "serve", "--port", str(port), "--workers", str(workers)]
    return Service(name, command, env, tmp / name, port, "/health/ready")


def mlflow_service(name: str, tracking_uri: str, version: str, tmp: Path) -> Service:
    port = free_port()
    env = clean_env({"MLFLOW_TRACKING_URI": tracking_uri})
    command = [str(BIN / "mlflow"), "models", "serve", "-m", f"models:/{MODEL}/{version}",
               "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)]  # fmt: skip
    return Service(name, command, env, tmp / name, port, "/ping")


def cold_start(make: Any, repeats: int) -> list[float]:
    times = []
    for i in range(repeats):
        service: Service = make(i).start()
        try:
            times.append(service.wait_ready())
        finally:
            service.stop()
            STARTED.remove(service)
    return times


def batch_latencies(url: str, body: dict[str, Any], calls: int) -> list[float]:
    with httpx.Client(timeout=60.0) as client:
        for _ in range(2):
            client.post(url, json=body).raise_for_status()
        times = []
        for _ in range(calls):
            started = time.perf_counter()
            client.post(url, json=body).raise_for_status()
            times.append(1000 * (time.perf_counter() - started))
    return times


def closed_loop(
    url: str, bodies: Sequence[str], concurrency: int, seconds: float, tmp: Path
) -> Load:
    if shutil.which("wrk"):
        wrk_closed_loop(url, bodies, concurrency, 3, tmp)  # warm-up
        return wrk_closed_loop(url, bodies, concurrency, seconds, tmp)
    python_load("closed", url, bodies, 3, tmp, concurrency=concurrency)
    return python_load("closed", url, bodies, seconds, tmp, concurrency=concurrency)


def fmt(value: float, digits: int = 1) -> str:
    return "-" if value != value else f"{value:,.{digits}f}"  # NaN -> "-"


def load_line() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


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

    atexit.register(stop_all)
    signal.signal(signal.SIGTERM, _terminate)
    tmp = Path(tempfile.mkdtemp(prefix="badbuzz-bench-"))
    report = Report()
    began = time.perf_counter()
    print(f"badbuzz serving benchmark; {load_line()}; work folder {tmp}", flush=True)
    try:
        measure(args, tmp, report)
    finally:
        stop_all()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print_report(args, report, time.perf_counter() - began)


def measure(args: argparse.Namespace, tmp: Path, report: Report) -> None:
    home = tmp / "home"
    data = str(
        Path(
            os.environ.get("BADBUZZ_SENTIMENT140") or ROOT.parent / "shared/data/sentiment140"
        ).resolve()
    )
    os.environ["BADBUZZ_SENTIMENT140"] = data
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
    tracking_uri = f"sqlite:///{home / 'mlflow' / 'mlflow.db'}"
    tweets, _ = real_tweets(1000)
    single = [json.dumps({"text": t}) for t in tweets[:300]]
    mlflow_single = [json.dumps({"dataframe_records": [{"text": t}]}) for t in tweets[:300]]
    registry = {"BADBUZZ_MODEL_ALIAS": "champion"}

    # 1. closed loop: mlflow, then badbuzz with 1 and 2 workers (one server at a time)
    mlflow = mlflow_service("mlflow", tracking_uri, "1", tmp).start()
    report.cold["mlflow models serve (registry)"] = [mlflow.wait_ready()]
    probe = tweets[0]
    with httpx.Client(timeout=30) as client:
        reference = client.post(
            mlflow.url + "/invocations", json={"dataframe_records": [{"text": probe}]}
        ).json()["predictions"][0]["probability_positive"]
    report.closed["mlflow models serve"] = closed_loop(
        mlflow.url + "/invocations", mlflow_single, args.concurrency, args.seconds, tmp
    )
    report.batch_ms["mlflow /invocations"] = batch_latencies(
        mlflow.url + "/invocations",
        {"dataframe_records": [{"text": t} for t in tweets]},
        max(5, args.batch_calls // 2),
    )
    total, per = rss_mb(mlflow)
    report.rss["mlflow models serve"] = f"{total:.0f} MB ({' + '.join(f'{p:.0f}' for p in per)})"
    report.open_loop["mlflow models serve"] = python_load(
        "open", mlflow.url + "/invocations", mlflow_single, args.rate_seconds, tmp, rate=args.rate
    )
    mlflow.stop()

    for workers in (1, 2):
        name = f"badbuzz serve, {workers} worker{'s' * (workers > 1)}"
        api = badbuzz_service(f"badbuzz-{workers}w", home, tmp, registry, workers).start()
        api.wait_ready()
        with httpx.Client(timeout=30) as client:
            served = client.post(api.url + "/predict", json={"text": probe}).json()
        if abs(served["probability_positive"] - reference) > 1e-9:
            report.notes.append(
                f"WARNING: {name} scores {served['probability_positive']} where mlflow "
                f"scores {reference}"
            )
        report.closed[name] = closed_loop(
            api.url + "/predict", single, args.concurrency, args.seconds, tmp
        )
        total, per = rss_mb(api)
        report.rss[f"{name} (registry + cache, sklearn)"] = (
            f"{total:.0f} MB ({' + '.join(f'{p:.0f}' for p in per)})"
        )
        report.open_loop[name] = python_load(
            "open", api.url + "/predict", single, args.rate_seconds, tmp, rate=args.rate
        )
        if workers == 1:
            report.batch_ms["badbuzz /predict/batch"] = batch_latencies(
                api.url + "/predict/batch", {"texts": tweets}, args.batch_calls
            )
        api.stop()
        stored_errors = api.tail(10**7).count("could not store predictions")
        if stored_errors:
            report.notes.append(f"{name}: {stored_errors} failed prediction-store flushes")

    # 4. cold start and memory from a cached bundle
    cached = home / "model-cache" / MODEL / "1"
    report.model_ms = model_call_costs(cached, tweets)
    report.cold["badbuzz, registry + warm cache (sklearn)"] = cold_start(
        lambda i: badbuzz_service(f"cold-registry-{i}", home, tmp, registry), args.cold_starts
    )
    local = {"BADBUZZ_MODEL_BUNDLE": str(cached)}
    report.cold["badbuzz, BADBUZZ_MODEL_BUNDLE (sklearn)"] = cold_start(
        lambda i: badbuzz_service(f"cold-local-{i}", tmp / f"h-local-{i}", tmp, local),
        args.cold_starts,
    )
    measure_bundle_rss(report, "sklearn", local, tmp, tweets)

    if args.tflite:
        bundle = tmp / "tflite-bundle"
        try:
            built = subprocess.run(
                [sys.executable, __file__, "_build_tflite", str(bundle)],
                capture_output=True, text=True, timeout=900, check=False,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )  # fmt: skip
            if built.returncode != 0:
                raise RuntimeError(built.stderr[-1500:])
        except (RuntimeError, subprocess.TimeoutExpired) as error:
            report.notes.append(f"TFLite bundle not built, sklearn figures only: {error}")
        else:
            tfl = {"BADBUZZ_MODEL_BUNDLE": str(bundle)}
            report.cold["badbuzz, BADBUZZ_MODEL_BUNDLE (tflite)"] = cold_start(
                lambda i: badbuzz_service(f"cold-tflite-{i}", tmp / f"h-tfl-{i}", tmp, tfl),
                args.cold_starts,
            )
            measure_bundle_rss(report, "tflite", tfl, tmp, tweets)


def model_call_costs(bundle_dir: Path, tweets: list[str], calls: int = 300) -> dict[int, float]:
    """Median ms per tweet of the bundle's own predict_proba, by batch size: what the API's
    dynamic batching saves per request."""
    from training.bundle import ModelBundle

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


def measure_bundle_rss(
    report: Report, kind: str, settings: Mapping[str, str], tmp: Path, tweets: list[str]
) -> None:
    """RSS after warm-up (500 single + 5 batch requests) of a local-bundle API, whether
    TensorFlow got loaded, and its single-request latency at concurrency 1."""
    api = badbuzz_service(f"rss-{kind}", tmp / f"h-rss-{kind}", tmp, settings).start()
    try:
        api.wait_ready()
        with httpx.Client(base_url=api.url, timeout=60) as client:
            times = []
            for tweet in tweets[:500]:
                started = time.perf_counter()
                client.post("/predict", json={"text": tweet}).raise_for_status()
                times.append(1000 * (time.perf_counter() - started))
            for _ in range(5):
                client.post("/predict/batch", json={"texts": tweets}).raise_for_status()
            runtime = client.get("/model").json()["runtime"]
        total, _ = rss_mb(api)
        tf = "TensorFlow LOADED" if tensorflow_loaded(api) else "no TensorFlow loaded"
        report.rss[f"badbuzz serve, 1 worker, local {kind} bundle"] = (
            f"{total:.0f} MB (runtime {runtime}, {tf}; /predict at c=1: median "
            f"{statistics.median(times):.2f} ms)"
        )
    finally:
        api.stop()


def print_report(args: argparse.Namespace, report: Report, seconds: float) -> None:
    print(f"\n=== badbuzz serving benchmark ({seconds:.0f} s; {load_line()}) ===")
    for note in report.notes:
        print(f"- {note}")
    if report.closed:
        tool = next(iter(report.closed.values())).tool
        print(f"\n1. Closed loop, one tweet per request, {tool}, {args.seconds:g} s each")
        print(
            f"{'server':<30} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'errors':>7}"
        )
        for name, load in report.closed.items():
            print(
                f"{name:<30} {fmt(load.rps):>9} {fmt(load.p50_ms, 2):>8} {fmt(load.p99_ms, 2):>8} "
                f"{fmt(load.max_ms):>8} {load.errors:>7}"
            )
        base = report.closed.get("mlflow models serve")
        if base:
            for name, load in report.closed.items():
                if name.startswith("badbuzz"):
                    print(
                        f"   {name} / mlflow: throughput {load.rps / base.rps:.1f}x "
                        f"(goal >= 5x), p50 {load.p50_ms / base.p50_ms:.2f}x (goal <= 0.20x)"
                    )
    if report.open_loop:
        print(
            f"\n2. Open loop at {args.rate:g} req/s for {args.rate_seconds:g} s (Python "
            "generator in its own process; latency from each request's scheduled time)"
        )
        print(
            f"{'server':<30} {'sent/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>9} "
            f"{'errors':>7} {'gen. lag p99 ms':>16}"
        )
        for name, load in report.open_loop.items():
            print(
                f"{name:<30} {fmt(load.rps):>8} {fmt(load.p50_ms, 2):>8} {fmt(load.p99_ms, 2):>8} "
                f"{fmt(load.max_ms):>9} {load.errors:>7} {fmt(load.late_p99_ms, 2):>16}"
            )
    if report.batch_ms:
        print("\n3. One request with 1,000 tweets (goal: badbuzz median < 200 ms)")
        for name, times in report.batch_ms.items():
            print(
                f"   {name:<28} median {statistics.median(times):7.1f} ms, "
                f"min {min(times):7.1f}, max {max(times):7.1f} ({len(times)} calls)"
            )
    if report.model_ms:
        print("\n   The model alone (bundle predict_proba, in this process), ms per tweet:")
        print("   " + ", ".join(f"batch of {n}: {ms:.3f}" for n, ms in report.model_ms.items()))
    print("\n4. Memory after warm-up (RSS of the process tree; goal <= 250 MB, TFLite bundle)")
    for name, text in report.rss.items():
        print(f"   {name:<48} {text}")
    print("   Cold start, process start -> ready 200 (goal <= 3 s)")
    for name, times in report.cold.items():
        print(
            f"   {name:<48} median {statistics.median(times):5.2f} s "
            f"(runs: {', '.join(f'{t:.2f}' for t in times)})"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_load":
        load_main(sys.argv[2:])
    elif len(sys.argv) > 1 and sys.argv[1] == "_build_tflite":
        build_tflite_main(sys.argv[2:])
    else:
        main()
