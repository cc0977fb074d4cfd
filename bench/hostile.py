"""Hostile-input benchmark, one run on this machine: what the worst texts a client can send cost
/predict/batch, and what a flood of /predict costs while the database is unreachable.

It writes a small real bundle (TF-IDF + logistic regression on 60 tweets of the manual test
set) and serves it with `badbuzz serve` (1 worker, the API key set, airline brands configured),
then measures:

1. /predict/batch of 1,000 texts, --calls times per kind of input: ordinary tweets (real, as
   they come), ordinary text as long as the hostile texts (real tweets joined), and for every
   regex on the request path (badbuzz/text.py: URLs, mentions, hashtags, emoticons,
   elongations, punctuation runs, tokens; html.unescape's entities; ops/brands.py's @handles)
   the worst inputs found, each text as long as the body limit allows (1,000 characters in
   ASCII, fewer in wider UTF-8); p50 and p99 (nearest rank) per kind, and p99 over the p99 of
   ordinary text of the same length (goal: <= 2x). Beside it, in this process, what the old
   URL pattern (before it was made linear) cost to normalise the `a.a.a...` batch.
2. a flood of /predict (--flood-concurrency clients that ignore Retry-After, for
   --flood-seconds) while the database is unreachable: the API's PostgreSQL database reached
   through a TCP relay in this process, which is cut (every connection closed, new ones
   refused); where no local PostgreSQL answers, SQLite held by another writer instead. The
   API keeps at most --flood-max-unwritten predictions waiting for their commit and takes 128
   requests at once (the default). The API's resident memory is sampled every 0.25 s and the
   answers counted by status and reason (goal: memory flat, every refusal a 503 with
   Retry-After: the API answers only what it committed, so none is a 200 while the database
   is gone); then the database comes back and every prediction answered 200 is checked stored.

Every process it starts runs in its own process group and is stopped on exit, error or ^C.

    .venv/bin/python -m bench.hostile [--calls 30] [--flood-seconds 20] [--flood-concurrency 256]
        [--flood-max-unwritten 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import socket
import sqlite3
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from bench.load import percentile
from tests.api.support import base_env
from tests.badbuzz_cli import BADBUZZ
from tests.processes import PostgresUnavailable, Server, free_port, throwaway_postgres

API_KEY = "bench-hostile-api-key-0123456789"
KEY_HEADER = {"X-API-Key": API_KEY}
BRANDS = (
    "@united=United,@AmericanAir=American,@Delta=Delta,@SouthwestAir=Southwest,"
    "@JetBlue=JetBlue,@VirginAmerica=Virgin America,@USAirways=US Airways"
)
BODY_LIMIT = 1_048_576  # ApiSettings.max_body_bytes default
MAX_CHARS = 1_000  # api.schemas.MAX_TEXT_CHARS
BATCH = 1_000
GOAL_RATIO = 2.0
# The URL pattern before it was made linear (quadratic on words such as `a.a.a...`).
OLD_URL_RE = re.compile(r"(?:https?://|www\.)\S+|\b\S+\.(?:com|net|org|ly|co)/\S*", re.I)

# What each regex on the request path finds hardest: near-matches repeated in one word, so that
# a backtracking pattern tries every start and rescans the rest (name: (what, repeated unit)).
HOSTILE: dict[str, tuple[str, str]] = {
    "url a.a.a": ("URL_RE, a domain never closed by .com/", "a."),
    "url a.com": ("URL_RE, .com without its /", "a.com"),
    "url a.co/": ("URL_RE, a URL per 5 characters in one word", "a.co/"),
    "url http:/": ("URL_RE, schemes never completed", "http:/"),
    "url www": ("URL_RE, www without its dot", "ww"),
    "url dots": ("URL_RE, dots only", "."),
    "mention @a": ("MENTION_RE, a mention per 2 characters", "@a"),
    "mention @": ("MENTION_RE, @ with no name", "@"),
    "hashtag #a": ("HASHTAG_RE", "#a"),
    "emoticon :( ": ("EMOTICON_RE, one per 3 characters", ":( "),
    "emoticon :(": ("EMOTICON_RE, never standing alone", ":("),
    "emoticon :-": ("EMOTICON_RE, prefixes of :-( :-) ...", ":-"),
    "elongation a": ("ELONGATION_RE, one run of a letter", "a"),
    "elongation ab": ("ELONGATION_RE, never 3 alike", "ab"),
    "punctuation !?": ("_PUNCT_RUN_RE, one run", "!?"),
    "token a'": ("_TOKEN_RE, apostrophes never closed", "a'"),
    "token _": ("_TOKEN_RE, underscores", "_"),
    "entity &": ("html.unescape, & alone", "&"),
    "entity &#1": ("html.unescape, numeric references unclosed", "&#1"),
    "entity &aaa": ("html.unescape, names of 31 letters", "&" + "a" * 31),
    "handle @unite": ("ops/brands.py, a configured handle's prefix", "@unite "),
    "handle @unitedx": ("ops/brands.py, a configured handle continued", "@unitedx"),
    "whitespace": ("\\s and \\S runs: Unicode spaces between letters", "a\u3000 \t"),
    "emoji": ("emoji.demojize (not a regex): one emoji after another", "\U0001f621"),
    "emoji zwj": ("emoji.demojize: ZWJ families", "\U0001f468\u200d\U0001f469\u200d\U0001f467"),
    "combining": ("combining accents", "a\u0301"),
    "cjk": ("wide characters, no spaces", "\u6771"),
}


@dataclass
class BatchKind:
    name: str
    what: str
    chars: int
    times_ms: list[float] = field(default_factory=list)

    @property
    def p50(self) -> float:
        return percentile(self.times_ms, 50)

    @property
    def p99(self) -> float:
        return percentile(self.times_ms, 99)


@dataclass
class Flood:
    database: str
    seconds: float
    concurrency: int
    answers: Counter[str] = field(default_factory=Counter)
    without_retry_after: int = 0
    rss_mb: list[tuple[float, float]] = field(default_factory=list)  # (seconds, MB)
    accepted: int = 0  # 200s while the database was unreachable
    stored_after_s: float | None = None
    stored: int = 0
    expected: int = 0
    max_unwritten: int = 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=30, help="/predict/batch calls per kind")
    parser.add_argument("--flood-seconds", type=float, default=20.0)
    parser.add_argument("--flood-concurrency", type=int, default=256)
    parser.add_argument(
        "--flood-max-unwritten",
        type=int,
        default=1_000,
        help="BADBUZZ_MAX_UNWRITTEN_PREDICTIONS of the flooded API (the smallest allowed, so "
        "that the queue fills within the flood)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    began = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="badbuzz-hostile-"))
    try:
        from tests.bundles import write_tiny_sklearn_bundle

        bundle = write_tiny_sklearn_bundle(tmp / "bundle")
        tweets = manual_tweets()
        kinds = hostile_batches(args, tmp, bundle, tweets)
        old_url_s, new_url_s = url_patterns_compared()
        flood = flood_unreachable_database(args, tmp, bundle, tweets)
    finally:
        if args.keep:
            print(f"work folder kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    report(kinds, old_url_s, new_url_s, flood, args, time.perf_counter() - began)


# --- 1. hostile batches --------------------------------------------------------------------


def fitting(unit: str, count: int = BATCH) -> str:
    """`unit` repeated to the longest text (at most MAX_CHARS) of which `count` fit in one
    body under the limit, as compact UTF-8 JSON."""
    chars = MAX_CHARS
    while len(batch_body([(unit * MAX_CHARS)[:chars]] * count)) > BODY_LIMIT:
        chars -= 10
    return (unit * MAX_CHARS)[:chars]


def batch_body(texts: Sequence[str]) -> bytes:
    return json.dumps({"texts": list(texts)}, ensure_ascii=False).encode()


def ordinary_text(tweets: Sequence[str], chars: int, count: int = BATCH) -> list[str]:
    """`count` texts of `chars` characters, each real tweets joined from its own start."""
    joined = " ".join(tweets) * (1 + chars * count // max(1, len(" ".join(tweets))))
    step = max(1, (len(joined) - chars) // count)
    return [joined[i * step : i * step + chars].strip() or "x" for i in range(count)]


def hostile_batches(
    args: argparse.Namespace, tmp: Path, bundle: Path, tweets: Sequence[str]
) -> list[BatchKind]:
    settings = {
        "BADBUZZ_MODEL_BUNDLE": str(bundle),
        "BADBUZZ_BRANDS": BRANDS,
        # what the texts cost is measured here, not the store's write rate (part 2's bound)
        "BADBUZZ_MAX_UNWRITTEN_PREDICTIONS": "1000000",
    }
    bodies: dict[str, tuple[str, int, bytes]] = {
        "ordinary tweets": ("real tweets as they come", 0, batch_body(tweets[:BATCH]))
    }
    lengths: set[int] = set()
    for name, (what, unit) in HOSTILE.items():
        text = fitting(unit)
        lengths.add(len(text))
        bodies[name] = (what, len(text), batch_body([text] * BATCH))
    for chars in sorted(lengths, reverse=True):
        bodies[f"ordinary {chars} chars"] = (
            "real tweets joined, as long as the hostile texts",
            chars,
            batch_body(ordinary_text(tweets, chars)),
        )
    kinds = [BatchKind(name, what, chars) for name, (what, chars, _) in bodies.items()]
    with serve(tmp / "batches", settings) as api, httpx.Client(timeout=120.0) as client:
        url = api.url + "/predict/batch"
        headers = {"content-type": "application/json", **KEY_HEADER}
        for kind in kinds:  # warm, and every body is taken
            answer = client.post(url, content=bodies[kind.name][2], headers=headers)
            if answer.status_code != 200:
                raise RuntimeError(f"{kind.name}: HTTP {answer.status_code} {answer.text[:300]}")
        # interleaved rounds: a slow moment of the machine falls on every kind alike
        for call in range(args.calls):
            for kind in kinds:
                started = time.perf_counter()
                answer = client.post(url, content=bodies[kind.name][2], headers=headers)
                kind.times_ms.append(1000 * (time.perf_counter() - started))
                if answer.status_code != 200:
                    raise RuntimeError(f"{kind.name}: HTTP {answer.status_code} {answer.text}")
            print(f"round {call + 1}/{args.calls} of {len(kinds)} batches", flush=True)
    return kinds


def url_patterns_compared() -> tuple[float, float]:
    """Seconds to replace the URLs of the `a.a.a...` batch: the old pattern, the new one."""
    from badbuzz.text import URL_TOKEN, _replace_urls

    texts = [fitting("a.")] * BATCH
    started = time.perf_counter()
    for text in texts:
        OLD_URL_RE.sub(f" {URL_TOKEN} ", text)
    old_s = time.perf_counter() - started
    started = time.perf_counter()
    for text in texts:
        _replace_urls(text)
    return old_s, time.perf_counter() - started


# --- 2. a flood with the database unreachable ----------------------------------------------


class Relay:
    """A TCP relay on loopback to `target`; `cut()` closes every connection through it and
    refuses new ones (a stopped database, as its clients see it), `restore()` accepts again."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._open = False
        self._connections: list[socket.socket] = []
        self.restore()

    def restore(self) -> None:
        listener = socket.create_server(("127.0.0.1", self.port))
        listener.settimeout(0.2)
        self._open = True
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        self._open = False
        time.sleep(0.3)  # the listener's accept loop notices and closes it
        for connection in self._connections:
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()
        self._connections.clear()

    def _accept(self, listener: socket.socket) -> None:
        with listener:
            while self._open:
                try:
                    client, _ = listener.accept()
                except TimeoutError:
                    continue
                upstream = socket.create_connection(self.target)
                self._connections += [client, upstream]
                for source, sink in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass


# what the database is, the URL the API gets, cut it, restore it, count the rows stored
Outage = tuple[str, str, Callable[[], None], Callable[[], None], Callable[[], int]]


@contextmanager
def unreachable_database(tmp: Path) -> Iterator[Outage]:
    """(what, URL for the API, cut, restore, rows stored): PostgreSQL behind a relay, else
    SQLite that another writer locks."""
    from sqlalchemy import create_engine, func, select
    from sqlalchemy.engine import make_url

    from ops.database import predictions

    try:
        with throwaway_postgres("badbuzz_hostile") as url:
            real = make_url(url)
            relay = Relay((real.host or "127.0.0.1", real.port or 5432))
            engine = create_engine(url)

            def count() -> int:
                with engine.connect() as connection:
                    query = select(func.count()).select_from(predictions)
                    return int(connection.execute(query).scalar_one())

            relayed = real.set(host="127.0.0.1", port=relay.port)
            try:
                yield (
                    "PostgreSQL, through a relay that is cut",
                    relayed.render_as_string(hide_password=False),
                    relay.cut,
                    relay.restore,
                    count,
                )
            finally:
                relay.cut()
                engine.dispose()
            return
    except PostgresUnavailable:
        pass
    database = tmp / "flood.db"
    holder: list[sqlite3.Connection] = []

    def lock() -> None:
        holder.append(sqlite3.connect(database, isolation_level=None))
        holder[0].execute("BEGIN EXCLUSIVE")

    def unlock() -> None:
        holder.pop().close()

    def rows() -> int:
        with sqlite3.connect(database) as connection:
            return int(connection.execute("SELECT count(*) FROM predictions").fetchone()[0])

    yield "SQLite, locked by another writer", f"sqlite:///{database}", lock, unlock, rows


def flood_unreachable_database(
    args: argparse.Namespace, tmp: Path, bundle: Path, tweets: Sequence[str]
) -> Flood:
    with unreachable_database(tmp) as (what, url, cut, restore, stored):
        flood = Flood(what, args.flood_seconds, args.flood_concurrency)
        flood.max_unwritten = args.flood_max_unwritten
        settings = {
            "BADBUZZ_MODEL_BUNDLE": str(bundle),
            "BADBUZZ_DATABASE_URL": url,
            "BADBUZZ_MAX_UNWRITTEN_PREDICTIONS": str(args.flood_max_unwritten),
        }
        with serve(tmp / "flood", settings) as api:
            process = psutil.Process(api.process.pid)
            for text in tweets[:50]:  # stored while the database answers
                httpx.post(api.url + "/predict", json={"text": text}, headers=KEY_HEADER)
            time.sleep(1.0)
            before = stored()
            print(f"flood: {what}; cutting it, then {args.flood_seconds:g} s of /predict")
            cut()
            started = time.monotonic()
            sampling = threading.Event()

            def sample() -> None:
                while not sampling.wait(0.25):
                    rss = process.memory_info().rss / 2**20
                    flood.rss_mb.append((time.monotonic() - started, rss))

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            asyncio.run(hammer(api.url + "/predict", tweets, flood))
            sampling.set()
            sampler.join()
            restore()
            flood.expected = before + flood.accepted
            back = time.monotonic()
            while time.monotonic() - back < 120:
                try:
                    flood.stored = stored()
                except Exception:  # locked a moment longer: ask again
                    flood.stored = 0
                if flood.stored >= flood.expected:
                    flood.stored_after_s = time.monotonic() - back
                    break
                time.sleep(0.25)
    return flood


async def hammer(url: str, tweets: Sequence[str], flood: Flood) -> None:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    deadline = time.monotonic() + flood.seconds
    async with httpx.AsyncClient(limits=limits, timeout=60.0, headers=KEY_HEADER) as client:

        async def client_loop(offset: int) -> None:
            i = offset
            while time.monotonic() < deadline:
                i += flood.concurrency
                try:
                    answer = await client.post(url, json={"text": tweets[i % len(tweets)]})
                except httpx.HTTPError as error:
                    flood.answers[f"no answer ({type(error).__name__})"] += 1
                    continue
                if answer.status_code == 200:
                    flood.accepted += 1
                    flood.answers["200"] += 1
                    continue
                reason = answer.json().get("detail", "")[:40]
                flood.answers[f"{answer.status_code} {reason}..."] += 1
                if answer.status_code == 503 and "retry-after" not in answer.headers:
                    flood.without_retry_after += 1

        await asyncio.gather(*(client_loop(n) for n in range(flood.concurrency)))


# --- shared --------------------------------------------------------------------------------


@contextmanager
def serve(home: Path, settings: Mapping[str, str]) -> Iterator[Server]:
    port = free_port()
    command = [str(BADBUZZ), "serve", "--host", "127.0.0.1", "--port", str(port)]
    env = base_env(home / "home", {"BADBUZZ_API_KEY": API_KEY, **settings})
    home.mkdir(parents=True, exist_ok=True)
    with Server.start("badbuzz", command, port=port, env=env, workdir=home) as server:
        server.wait_ready("/health/ready", timeout_s=90)
        yield server


def manual_tweets() -> list[str]:
    from tests.bundles import MANUAL_TEST_FILE
    from tests.shared_data import shared_sentiment140
    from training.data.sentiment140 import read_sentiment140

    frame = read_sentiment140(shared_sentiment140() / MANUAL_TEST_FILE, keep_neutral=True)
    texts = [str(text) for text in frame["text"]]
    return (texts * (1 + BATCH // len(texts)))[:BATCH]


def report(
    kinds: list[BatchKind],
    old_url_s: float,
    new_url_s: float,
    flood: Flood,
    args: argparse.Namespace,
    seconds: float,
) -> None:
    baseline = {k.chars: k.p99 for k in kinds if k.name.startswith("ordinary ") and k.chars}
    print(f"\nbadbuzz hostile-input benchmark ({seconds:.0f} s)")
    print(
        f"\n1. /predict/batch of {BATCH} texts, {args.calls} calls per kind (p99: nearest rank); "
        "ratio: p99 over ordinary text of the same length (goal <= 2x)"
    )
    print(f"{'kind':18} {'chars':>5} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>6}  regex")
    worst = 0.0
    for kind in kinds:
        ratio = kind.p99 / baseline[kind.chars] if kind.chars in baseline else float("nan")
        if kind.name in HOSTILE:
            worst = max(worst, ratio)
        print(
            f"{kind.name:18} {kind.chars or '-':>5} {kind.p50:8.1f} {kind.p99:8.1f} "
            f"{ratio:6.2f}  {kind.what}"
        )
    verdict = "met" if worst <= GOAL_RATIO else "NOT met"
    print(f"worst ratio {worst:.2f}x: goal <= {GOAL_RATIO:g}x {verdict}")
    print(
        f"URL replacement of the `a.a.a...` batch, in this process: old pattern {old_url_s:.2f} "
        f"s, now {1000 * new_url_s:.1f} ms"
    )
    total = sum(flood.answers.values())
    print(
        f"\n2. /predict flood, {flood.concurrency} clients for {flood.seconds:g} s "
        f"({total / flood.seconds:.0f} answers/s), database unreachable: {flood.database}; "
        f"BADBUZZ_MAX_UNWRITTEN_PREDICTIONS={flood.max_unwritten}, "
        "BADBUZZ_MAX_CONCURRENT_PREDICTIONS=128 (default)"
    )
    for answer, count in flood.answers.most_common():
        print(f"  {count:8d}  {answer}")
    print(f"  503 without Retry-After: {flood.without_retry_after}")
    if flood.rss_mb:
        quarters = [flood.rss_mb[int(q * (len(flood.rss_mb) - 1))] for q in (0, 0.25, 0.5, 0.75, 1)]
        shown = ", ".join(f"{mb:.0f} MB at {at:.0f} s" for at, mb in quarters)
        print(f"  API resident memory: {shown}; peak {max(mb for _, mb in flood.rss_mb):.0f} MB")
    stored = (
        f"all {flood.expected} stored {flood.stored_after_s:.1f} s after it came back"
        if flood.stored_after_s is not None
        else f"{flood.stored} of {flood.expected} stored 120 s after it came back"
    )
    print(f"  predictions answered 200 (before and during the outage): {stored}")


if __name__ == "__main__":
    main()
