"""Alert benchmark, one run on this machine: how soon an error alert's mail reaches the SMTP
server, and what alerting costs `/predict` throughput.

It writes a small real bundle (TF-IDF + logistic regression on 60 tweets of the manual test
set), starts an SMTP server (aiosmtpd, in a thread of this process) and `badbuzz serve` on
that bundle with mail configured and BADBUZZ_ALERT_COOLDOWN_SECONDS=0, so that every 3 wrong
verdicts send a mail (the check interval stays at its default), then measures:

1. alert latency, --trials times: predict and flag 3 tweets wrong (POST /predict, then
   POST /feedback with correct=false), and time from the 3rd /feedback's 201 to the moment
   the SMTP server accepted the alert's DATA (goal: < 2 s);
2. /predict closed-loop throughput at --concurrency for --seconds (wrk when installed, else a
   Python generator in its own process), without alerts and while a thread flags 3
   predictions wrong every --flag-every seconds (an alert and a mail each time), run A B A B
   and the median of each kept, as the machine's cores are shared (goal: with alerts
   >= 0.9x without). The mails accepted during each run are counted: where fewer than half
   the due rounds became mails, alerts were not firing as intended and the ratio is not
   taken as an answer to the goal.

Every process it starts runs in its own process group and is stopped on exit, error or ^C.

    .venv/bin/python -m bench.alerts [--trials 20] [--seconds 15] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import signal
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import httpx

from bench.footprint import process_tree
from bench.load import Load, closed_loop
from bench.report import fmt, machine_load, print_table
from tests.api.support import base_env
from tests.badbuzz_cli import BADBUZZ
from tests.processes import Server, free_port
from tests.smtp import Received, SmtpServer

API_KEY = "bench-alerts-api-key-0123456789"
KEY_HEADER = {"X-API-Key": API_KEY}
ALERT_TO = "oncall@airline.example"
FLAGS = 3  # the default BADBUZZ_ALERT_THRESHOLD: each round of flags completes one window
MAIL_WAIT_S = 30.0
TRIAL_GAP_S = 0.2  # between trials: the last alert's outbox row is marked sent meanwhile
LATENCY_GOAL_MS = 2000.0
THROUGHPUT_GOAL = 0.9
QUIET = "no alerts"
ALERTING = "alerts firing"


@dataclass(frozen=True)
class Run:
    """One closed-loop run: its load; the error-alert mails the SMTP server accepted and the
    rounds of flags completed during its measured part, and how many rounds were due there;
    the median and longest round (3 x /predict + /feedback) of the whole run; the CPU cores
    (CPU seconds per second, warm-up included) used by the API's process tree and by this
    process (the SMTP server and the flagging thread)."""

    name: str
    condition: str
    load: Load
    mails: int
    rounds: int
    rounds_due: int
    round_p50_s: float
    round_max_s: float
    api_cores: float
    bench_cores: float

    @property
    def alerts_kept_firing(self) -> bool:
        """At least half the due rounds became mails within the measured part."""
        return self.condition != ALERTING or 2 * self.mails >= self.rounds_due


@dataclass
class AlertReport:
    """What the run measured: alert latencies (ms), and the closed-loop runs in the order
    they ran."""

    check_interval_s: float
    trials_ms: list[float] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def print(self, title: str, elapsed_s: float) -> None:
        print(f"\n=== {title} ({elapsed_s:.0f} s; {machine_load()}) ===")
        for note in self.notes:
            print(f"- {note}")
        if self.trials_ms:
            median, worst = statistics.median(self.trials_ms), max(self.trials_ms)
            verdict = "met" if worst < LATENCY_GOAL_MS else "NOT met"
            print(
                f"\n1. 3rd flag's 201 -> alert mail accepted by the SMTP server, "
                f"{len(self.trials_ms)} trials, check interval "
                f"BADBUZZ_ALERT_CHECK_INTERVAL_S={self.check_interval_s:g} s (the default)"
            )
            print(
                f"   median {median:.1f} ms, max {worst:.1f} ms "
                f"(goal < {LATENCY_GOAL_MS:.0f} ms: {verdict})"
            )
            print("   all (ms, in order): " + ", ".join(f"{ms:.1f}" for ms in self.trials_ms))
        if self.runs:
            self._throughput()

    def _throughput(self) -> None:
        first = self.runs[0].load
        print(
            f"\n2. /predict closed loop, one tweet per request, {first.tool}, "
            f"{first.seconds:.0f} s each, in the order run. mails: error alerts accepted in "
            "the measured part; rounds: rounds of 3 wrong flags completed there / due there; "
            "round p50/max: seconds a round took (3 x /predict + /feedback); cores: CPU s/s "
            "over the warm-up and the run"
        )
        print_table(
            [("run", 18), ("req/s", 9), ("p50 ms", 8), ("p99 ms", 8), ("max ms", 8),
             ("errors", 7), ("mails", 6), ("rounds", 7), ("round p50", 10),
             ("round max", 10), ("API cores", 10), ("bench cores", 12)],
            [[run.name, fmt(run.load.rps), fmt(run.load.p50_ms, 2), fmt(run.load.p99_ms, 2),
              fmt(run.load.max_ms), str(run.load.errors), str(run.mails),
              f"{run.rounds}/{run.rounds_due}", fmt(run.round_p50_s, 2),
              fmt(run.round_max_s, 2), fmt(run.api_cores, 2), fmt(run.bench_cores, 2)]
             for run in self.runs],
        )  # fmt: skip
        medians = {
            condition: [run.load for run in self.runs if run.condition == condition]
            for condition in (QUIET, ALERTING)
        }
        print("   median of each condition:")
        print_table(
            [("condition", 18), ("req/s", 9), ("p50 ms", 8), ("p99 ms", 8)],
            [[condition, fmt(statistics.median(load.rps for load in loads)),
              fmt(statistics.median(load.p50_ms for load in loads), 2),
              fmt(statistics.median(load.p99_ms for load in loads), 2)]
             for condition, loads in medians.items() if loads],
        )  # fmt: skip
        if medians[QUIET] and medians[ALERTING]:
            ratio = statistics.median(load.rps for load in medians[ALERTING]) / statistics.median(
                load.rps for load in medians[QUIET]
            )
            starved = [run for run in self.runs if not run.alerts_kept_firing]
            verdict = "met" if ratio >= THROUGHPUT_GOAL else "NOT met"
            if starved:
                verdict = "NOT ASSESSED: alerts did not keep firing"
            print(
                f"   {ALERTING} / {QUIET}: throughput {ratio:.3f}x "
                f"(goal >= {THROUGHPUT_GOAL:g}x: {verdict})"
            )
            for run in starved:
                print(
                    f"   WARNING {run.name}: {run.mails} alert mails where {run.rounds_due} "
                    f"rounds of flags were due; a round took up to {run.round_max_s:.1f} s "
                    "(/predict, then /feedback answering 201), so alerts were not firing "
                    "at the intended rate during this run"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20, help="alert latency trials")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=15, help="closed-loop run length")
    parser.add_argument(
        "--flag-every",
        type=float,
        default=2.0,
        help="seconds between rounds of 3 wrong flags (above the 1 s check interval, so that "
        "each round is an alert of its own)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()

    def terminate(signum: int, frame: Any) -> NoReturn:
        raise SystemExit(128 + signum)  # so that every server is stopped on the way out

    signal.signal(signal.SIGTERM, terminate)
    from badbuzz.settings import AlertSettings

    interval = AlertSettings().check_interval_s
    report = AlertReport(interval)
    tmp = Path(tempfile.mkdtemp(prefix="badbuzz-bench-alerts-"))
    began = time.perf_counter()
    print(f"badbuzz alert benchmark; {machine_load()}; work folder {tmp}", flush=True)
    try:
        measure(args, tmp, report)
    finally:
        if args.keep:
            where = f"the work folder (bundle, API home, log) is kept in {tmp}"
        else:
            shutil.rmtree(tmp, ignore_errors=True)
            where = f"nothing written: the work folder {tmp} is deleted"
    report.notes.append(where + "; the figures are only printed")
    report.print("badbuzz alert benchmark", time.perf_counter() - began)


def measure(args: argparse.Namespace, tmp: Path, report: AlertReport) -> None:
    from tests.bundles import write_tiny_sklearn_bundle

    bundle = write_tiny_sklearn_bundle(tmp / "bundle")
    tweets = manual_tweets()
    report.notes.append(
        f"model: TF-IDF + logistic regression on 60 manual-test tweets; {len(tweets)} "
        "manual-test tweets as request bodies"
    )
    with SmtpServer() as smtp, start_api(tmp, bundle, smtp) as api:
        ready_s = api.wait_ready("/health/ready", timeout_s=90)
        print(f"API ready in {ready_s:.1f} s at {api.url}; SMTP on port {smtp.port}", flush=True)
        report.notes.append(
            "badbuzz serve, 1 worker, SQLite; BADBUZZ_ALERT_COOLDOWN_SECONDS=0 (every 3 wrong "
            "verdicts alert), threshold 3 in 5 min (defaults); aiosmtpd on loopback, no TLS"
        )
        try:
            with httpx.Client(base_url=api.url, timeout=30.0) as client:
                for trial in range(args.trials):
                    texts = [tweets[(trial * FLAGS + i) % len(tweets)] for i in range(FLAGS)]
                    report.trials_ms.append(alert_latency_ms(client, smtp, texts))
                    print(
                        f"trial {trial + 1}/{args.trials}: {report.trials_ms[-1]:.1f} ms",
                        flush=True,
                    )
                    time.sleep(TRIAL_GAP_S)
            bodies = [json.dumps({"text": text}) for text in tweets[:300]]
            for round_ in (1, 2):
                for condition in (QUIET, ALERTING):
                    name = f"{condition} #{round_}"
                    print(f"closed loop: {name} ({args.seconds:g} s + warm-up)", flush=True)
                    report.runs.append(throughput(args, api, bodies, tweets, smtp, name, condition))
        finally:
            log = api.log.read_text(errors="replace")
            not_sent = log.count(" not sent (try ")
            if not_sent:
                report.notes.append(f"WARNING: {not_sent} failed mail tries (API log: --keep)")
            skipped = log.count('Execution of job "OpsJobs.check_rules')
            if skipped:
                report.notes.append(
                    f"{skipped} rule checks skipped by the scheduler as one was still running "
                    "(a flag that came then waits for the next check interval)"
                )


@contextmanager
def start_api(tmp: Path, bundle: Path, smtp: SmtpServer) -> Iterator[Server]:
    port = free_port()
    settings = {
        "BADBUZZ_MODEL_BUNDLE": str(bundle),
        "BADBUZZ_API_KEY": API_KEY,
        **smtp.env(),
        "BADBUZZ_ALERT_TO": ALERT_TO,
        "BADBUZZ_ALERT_COOLDOWN_SECONDS": "0",
    }
    command = [str(BADBUZZ), "serve", "--host", "127.0.0.1", "--port", str(port)]
    env = base_env(tmp / "home", settings)
    with Server.start("badbuzz", command, port=port, env=env, workdir=tmp / "api") as server:
        yield server


def manual_tweets() -> list[str]:
    """The tweets of the Sentiment140 manual test set (a few hundred, read in a moment)."""
    from tests.bundles import MANUAL_TEST_FILE
    from tests.shared_data import shared_sentiment140
    from training.data.sentiment140 import read_sentiment140

    frame = read_sentiment140(shared_sentiment140() / MANUAL_TEST_FILE, keep_neutral=True)
    return [str(text) for text in frame["text"]]


def flag_wrong(client: httpx.Client, texts: Sequence[str]) -> float:
    """Predict each of `texts` and flag the prediction wrong; `time.monotonic()` when the last
    /feedback answered 201."""
    for text in texts:
        predicted = client.post("/predict", json={"text": text}, headers=KEY_HEADER)
        predicted.raise_for_status()
        answer = client.post(
            "/feedback",
            json={"prediction_id": predicted.json()["prediction_id"], "correct": False},
            headers=KEY_HEADER,
        )
        if answer.status_code != 201:
            raise RuntimeError(f"/feedback answered {answer.status_code}: {answer.text}")
    return time.monotonic()


def is_error_alert(received: Received) -> bool:
    return "wrong prediction" in str(received.message["Subject"])


def alert_latency_ms(client: httpx.Client, smtp: SmtpServer, texts: Sequence[str]) -> float:
    """Flag `texts` wrong; milliseconds from the last 201 to the error alert's acceptance."""
    before = len(smtp.received)
    answered = flag_wrong(client, texts)
    deadline = time.monotonic() + MAIL_WAIT_S
    seen = before
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no alert mail {MAIL_WAIT_S:g} s after the 3rd wrong flag")
        received = smtp.wait_for(seen + 1, left)
        for mail in received[seen:]:
            if is_error_alert(mail):
                return 1000 * (mail.accepted_at - answered)
        seen = len(received)


@dataclass
class Flagging:
    """Rounds of wrong flags sent by `flagging`: (started, 3rd flag's 201) each, in
    `time.monotonic()` seconds."""

    rounds: list[tuple[float, float]] = field(default_factory=list)


@contextmanager
def flagging(url: str, tweets: Sequence[str], every_s: float) -> Iterator[Flagging]:
    """While inside: a thread flags 3 predictions wrong every `every_s` seconds (at once when
    a round ran late); its error, if any, is raised on the way out."""
    done = Flagging()
    stop = threading.Event()

    def flag_until_stopped() -> None:
        with httpx.Client(base_url=url, timeout=30.0) as client:
            due = time.monotonic()
            while not stop.wait(max(0.0, due - time.monotonic())):
                first = len(done.rounds) * FLAGS
                texts = [tweets[(first + i) % len(tweets)] for i in range(FLAGS)]
                started = time.monotonic()
                done.rounds.append((started, flag_wrong(client, texts)))
                due = max(due + every_s, time.monotonic())

    with ThreadPoolExecutor(1, thread_name_prefix="flagging") as pool:
        future = pool.submit(flag_until_stopped)
        try:
            yield done
        finally:
            stop.set()
        future.result()


def throughput(
    args: argparse.Namespace,
    api: Server,
    bodies: Sequence[str],
    tweets: Sequence[str],
    smtp: SmtpServer,
    name: str,
    condition: str,
) -> Run:
    """One closed-loop run on /predict, with flags sent throughout when `condition` is
    ALERTING. Its measured part is taken as the last `load.seconds` before it returned (the
    warm-up comes first)."""
    api_cpu, own_cpu, started = cpu_seconds(api), time.process_time(), time.monotonic()
    if condition == ALERTING:
        with flagging(api.url, tweets, args.flag_every) as flags:
            load = closed_loop(
                api.url + "/predict", bodies, args.concurrency, args.seconds, KEY_HEADER
            )
            ended = time.monotonic()
    else:
        flags = Flagging()
        load = closed_loop(api.url + "/predict", bodies, args.concurrency, args.seconds, KEY_HEADER)
        ended = time.monotonic()
    wall = ended - started
    api_cores = (cpu_seconds(api) - api_cpu) / wall
    bench_cores = (time.process_time() - own_cpu) / wall
    began = ended - load.seconds
    mails = sum(
        1
        for mail in list(smtp.received)
        if is_error_alert(mail) and began <= mail.accepted_at <= ended
    )
    rounds = sum(1 for _, done in flags.rounds if began <= done <= ended)
    due = round(load.seconds / args.flag_every) if condition == ALERTING else 0
    took = [done - start for start, done in flags.rounds]
    p50 = statistics.median(took) if took else math.nan
    longest = max(took, default=math.nan)
    return Run(name, condition, load, mails, rounds, due, p50, longest, api_cores, bench_cores)


def cpu_seconds(server: Server) -> float:
    """User + system CPU seconds of the server's process tree so far."""
    return sum(sum(process.cpu_times()[:2]) for process in process_tree(server))


if __name__ == "__main__":
    main()
