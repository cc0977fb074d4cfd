"""Load on an HTTP server as the benchmarks apply it, with real tweets as request bodies:

- a closed loop (each connection sends its next request when the last one is answered):
  `wrk` when it is installed, else a Python (httpx, asyncio) generator;
- an open loop at a fixed rate, latency counted from each request's scheduled time, so that
  queueing shows;
- timed sequential calls.

The Python generator runs in a process of its own, so that it shares no GIL with the caller.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.pool import Pool
from pathlib import Path
from typing import Any, Literal

import httpx

WARM_UP_S = 3.0


@dataclass(frozen=True)
class Load:
    """What one load run measured."""

    tool: str
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float = math.nan
    late_p99_ms: float = math.nan  # open loop: how late the generator sent (its own lag)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def real_tweets(count: int, seed: int = 7) -> tuple[list[str], list[int]]:
    """`count` real tweets (and labels), a stratified sample of the shared training subset."""
    from badbuzz.settings import TrainingSettings
    from training.data.sentiment140 import read_sentiment140
    from training.data.sources import locate_training
    from training.data.split import stratified_sample

    source = locate_training(TrainingSettings())
    frame = stratified_sample(read_sentiment140(source.path, member=source.member), count, seed)
    return [str(text) for text in frame["text"]], [int(label) for label in frame["label"]]


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank `q`th percentile (as wrk reports it); NaN for no values."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def closed_loop(
    url: str,
    bodies: Sequence[str],
    concurrency: int,
    seconds: float,
    headers: Mapping[str, str] | None = None,
) -> Load:
    """POST `bodies` in turn on `concurrency` connections for `seconds`, after a warm-up,
    with `headers` (e.g. the ingest key) besides the JSON content type."""
    extra = dict(headers or {})
    if shutil.which("wrk"):
        with tempfile.TemporaryDirectory(prefix="badbuzz-wrk-") as tmp:
            script = Path(tmp) / "bodies.lua"
            script.write_text(_wrk_script(bodies, extra))
            _wrk(url, script, concurrency, WARM_UP_S)
            return _wrk(url, script, concurrency, seconds)
    with _generator_process() as pool:
        pool.apply(_generate, ("closed", url, bodies, WARM_UP_S, concurrency, 0.0, extra))
        return pool.apply(_generate, ("closed", url, bodies, seconds, concurrency, 0.0, extra))


def open_loop(url: str, bodies: Sequence[str], rate: float, seconds: float) -> Load:
    """POST `bodies` in turn at `rate` requests/s for `seconds`, whatever the answers."""
    with _generator_process() as pool:
        return pool.apply(_generate, ("open", url, bodies, seconds, 0, rate))


def timed_posts(url: str, bodies: Sequence[Any], warm_up: int = 0) -> list[float]:
    """Milliseconds of each JSON POST of `bodies`, one at a time, after `warm_up` untimed
    posts of the first; any error status raises."""
    with httpx.Client(timeout=60.0) as client:
        for _ in range(warm_up):
            client.post(url, json=bodies[0]).raise_for_status()
        times = []
        for body in bodies:
            started = time.perf_counter()
            client.post(url, json=body).raise_for_status()
            times.append(1000 * (time.perf_counter() - started))
    return times


# --------------------------------------------------------------------------- wrk


def _wrk_script(bodies: Sequence[str], headers: Mapping[str, str]) -> str:
    """A wrk script that POSTs `bodies` in turn, with `headers`."""

    def lua_string(text: str) -> str:  # a long bracket no body can close
        level = 1
        while f"]{'=' * level}]" in text:
            level += 1
        return f"[{'=' * level}[{text}]{'=' * level}]"

    table = ", ".join(
        f"[ {lua_string(name)} ] = {lua_string(value)}"  # "[[" would open a long string
        for name, value in {"Content-Type": "application/json", **headers}.items()
    )
    return (
        "local bodies = {\n"
        + ",\n".join(lua_string(body) for body in bodies)
        + "\n}\nlocal i = 0\nrequest = function()\n  i = i + 1\n"
        f'  return wrk.format("POST", nil, {{{table}}}, '
        "bodies[(i % #bodies) + 1])\nend\n"
    )


def _wrk(url: str, script: Path, concurrency: int, seconds: float) -> Load:
    threads = min(concurrency, 2)
    result = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{seconds:.0f}s", "--latency",
         "-s", str(script), url],
        capture_output=True, text=True, check=True, timeout=seconds + 60,
    )  # fmt: skip
    out = result.stdout

    def duration_ms(value: str, unit: str) -> float:
        return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]

    def latency_ms(percent: str) -> float:
        match = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        if not match:
            raise RuntimeError(f"no {percent}% latency in wrk output:\n{out}")
        return duration_ms(match[1], match[2])

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
    max_ms = duration_ms(max_match[1], max_match[2]) if max_match else math.nan
    return Load(
        f"wrk -t{threads} -c{concurrency}", int(total[1]), errors, elapsed,
        latency_ms("50"), latency_ms("99"), max_ms,
    )  # fmt: skip


# --------------------------------------------------------------------------- Python generator


def _generator_process() -> Pool:
    # spawn: a fresh interpreter, not a fork of a process that holds threads and sockets;
    # a Pool, as leaving its `with` (^C included) terminates a generator still running
    return multiprocessing.get_context("spawn").Pool(1)


def _generate(
    mode: Literal["open", "closed"],
    url: str,
    bodies: Sequence[str],
    seconds: float,
    concurrency: int,
    rate: float,
    headers: Mapping[str, str] | None = None,
) -> Load:
    encoded = [body.encode() for body in bodies]
    return asyncio.run(_run(mode, url, encoded, seconds, concurrency, rate, headers or {}))


async def _run(
    mode: Literal["open", "closed"],
    url: str,
    bodies: list[bytes],
    seconds: float,
    concurrency: int,
    rate: float,
    extra_headers: Mapping[str, str],
) -> Load:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    headers = {"content-type": "application/json", **extra_headers}
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

            async def scheduled(i: int) -> None:
                nonlocal errors
                due = start + i / rate
                await asyncio.sleep(max(0.0, due - loop.time()))
                late.append(loop.time() - due)
                ok = await send(bodies[i % len(bodies)])
                latencies.append(loop.time() - due)  # from the schedule: queueing included
                errors += not ok

            await asyncio.gather(*(scheduled(i) for i in range(int(rate * seconds))))
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
        1000 * percentile(latencies, 50),
        1000 * percentile(latencies, 99),
        1000 * max(latencies, default=math.nan),
        1000 * percentile(late, 99) if late else math.nan,
    )
