"""Back-testing the bad-buzz watch: a historical file of tweets scored in time order by a
bundle and run through the same detector, with the same settings, as the live watch
(`ops.buzz`), by the tweets' own time. What it would have raised goes to `alerts.jsonl`, and
a chart of every brand's negatives per window, alerts marked, to `chart.png`.

The file is a CSV with a header row (plain or .gz). Times need a UTC offset: ISO 8601
(`2015-02-22T17:03:11-08:00`), the Twitter US Airline export's `2015-02-22 17:03:11 -0800`,
or Sentiment140's `Mon Apr 06 22:19:45 PDT 2009`. Rows with no text or no readable time are
skipped and named by line; more than 1 % of them refuses the file.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import IO

from badbuzz.bundle.model import ModelBundle
from badbuzz.errors import DataError
from badbuzz.settings import OpsSettings
from ops.brands import BrandMatcher
from ops.buzz import Buzz, BuzzDetector, BuzzRule, ExpectedWindow, StreamDetector
from ops.chart import replay_chart

log = logging.getLogger(__name__)

CHUNK = 2_000  # tweets scored per model call
MAX_BAD_SHARE = 0.01
LINES_NAMED = 10  # bad lines named in a message; the rest are counted
ALERTS_FILE = "alerts.jsonl"
CHART_FILE = "chart.png"
# Zone abbreviations Sentiment140 and US exports use; anything else needs a numeric offset.
ZONES = {
    "UTC": 0,
    "GMT": 0,
    "EST": -5,
    "EDT": -4,
    "CST": -6,
    "CDT": -5,
    "MST": -7,
    "MDT": -6,
    "PST": -8,
    "PDT": -7,
}


def parse_time(value: str) -> datetime:
    """A tweet's time in UTC; ValueError says why not."""
    value = value.strip()
    moment = None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        for layout in ("%Y-%m-%d %H:%M:%S %z", "%Y-%m-%dT%H:%M:%S %z"):
            try:
                moment = datetime.strptime(value, layout)
                break
            except ValueError:
                continue
    if moment is None:
        moment = _named_zone(value)
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset (add one, e.g. -08:00 or Z)")
    return moment.astimezone(UTC)


def _named_zone(value: str) -> datetime:
    """`Mon Apr 06 22:19:45 PDT 2009` (Twitter's old API, Sentiment140)."""
    parts = value.split()
    if len(parts) == 6 and parts[4].upper() in ZONES:
        hours = ZONES[parts[4].upper()]
        try:
            naive = datetime.strptime(" ".join(parts[:4] + parts[5:]), "%a %b %d %H:%M:%S %Y")
        except ValueError:
            pass
        else:
            return naive.replace(tzinfo=timezone(timedelta(hours=hours)))
    raise ValueError(
        f"{value!r} is not a time with a UTC offset (e.g. 2015-02-22 17:03:11 -0800, "
        "2015-02-22T17:03:11Z or Mon Apr 06 22:19:45 PDT 2009)"
    )


@dataclass(frozen=True)
class HistoricalTweet:
    line: int
    at: datetime
    text: str
    brand: str
    label: str | None = None  # a person's label, where the file has a label column


def read_tweets(
    path: Path,
    text_column: str,
    time_column: str,
    brand_column: str | None,
    brands: BrandMatcher,
    encoding: str = "utf-8",
    label_column: str | None = None,
) -> list[HistoricalTweet]:
    """Every good row of the file, in time order (rows of the same time keep file order)."""
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    tweets: list[HistoricalTweet] = []
    bad: list[tuple[int, str]] = []
    with _open(path, encoding) as file:
        reader = csv.reader(file)
        try:
            header = next(reader)
        except StopIteration:
            raise DataError(f"{path} is empty: a CSV with a header row is expected") from None
        except (csv.Error, UnicodeDecodeError) as error:
            raise DataError(f"{path}: not a readable CSV ({error})") from error
        optional = [name for name in (brand_column, label_column) if name]
        wanted = [text_column, time_column, *optional]
        missing = [name for name in wanted if name not in header]
        if missing:
            raise DataError(
                f"{path} has no column {', '.join(map(repr, missing))}; its columns are "
                f"{', '.join(header)} (name them with --text-column, --time-column, "
                "--brand-column)"
            )
        text_at, time_at = header.index(text_column), header.index(time_column)
        brand_at = header.index(brand_column) if brand_column else None
        label_at = header.index(label_column) if label_column else None
        line = reader.line_num
        while True:
            start = line + 1  # a quoted field may span lines: a row starts after the last
            try:
                row = next(reader)
            except StopIteration:
                break
            except (csv.Error, UnicodeDecodeError) as error:
                raise DataError(
                    f"{path} line {start}: not readable as CSV in {encoding} ({error})"
                ) from error
            line = reader.line_num
            if not row:
                continue
            try:
                tweets.append(_tweet(row, start, (text_at, time_at, brand_at, label_at), brands))
            except ValueError as error:
                bad.append((start, str(error)))
    _judge_bad_rows(path, bad, len(tweets) + len(bad))
    tweets.sort(key=lambda tweet: tweet.at)
    return tweets


def _tweet(
    row: list[str],
    line: int,
    columns: tuple[int, int, int | None, int | None],
    brands: BrandMatcher,
) -> HistoricalTweet:
    text_at, time_at, brand_at, label_at = columns
    if len(row) <= max(text_at, time_at, brand_at or 0, label_at or 0):
        raise ValueError(f"{len(row)} fields, fewer than the header's")
    text = row[text_at]
    if not text.strip():
        raise ValueError("no text")
    sent = row[brand_at].strip() if brand_at is not None else ""
    label = row[label_at].strip() if label_at is not None else None
    return HistoricalTweet(
        line, parse_time(row[time_at]), text, brands.brand_of(text, sent or None), label
    )


def _judge_bad_rows(path: Path, bad: list[tuple[int, str]], rows: int) -> None:
    if not bad:
        return
    lines = ", ".join(str(line) for line, _ in bad[:LINES_NAMED])
    more = f" and {len(bad) - LINES_NAMED:,} more" if len(bad) > LINES_NAMED else ""
    why = bad[0][1]
    if len(bad) > MAX_BAD_SHARE * rows:
        raise DataError(
            f"{path}: {len(bad):,} of {rows:,} rows are bad (lines {lines}{more}; e.g. {why}); "
            "fix them or check --text-column and --time-column"
        )
    log.warning("skipped %d bad rows of %s: lines %s%s (e.g. %s)", len(bad), path, lines, more, why)


def _open(path: Path, encoding: str) -> IO[str]:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path), encoding=encoding, newline="")
    return path.open(encoding=encoding, newline="")


@dataclass(frozen=True)
class Replay:
    tweets: int
    seconds: float  # scoring and detecting, reading the file not included
    buzzes: list[Buzz]
    windows: dict[str, list[ExpectedWindow]]  # per brand, every window and its expectation

    @property
    def tweets_per_s(self) -> float:
        return self.tweets / self.seconds if self.seconds else float("inf")


def replay(
    tweets: list[HistoricalTweet],
    bundle: ModelBundle,
    settings: OpsSettings,
    on_progress: Callable[[int], None] = lambda done: None,
) -> Replay:
    """Score `tweets` (in time order) chunk by chunk and feed them to the detector."""
    started = time.perf_counter()
    negatives: list[bool] = []
    for chunk in _chunks(tweets, CHUNK):
        labels = bundle.classify([t.text for t in chunk]).labels
        negatives += [label == "negative" for label in labels]  # as ops.buzz_counts counts
        on_progress(len(chunk))
    return detect(tweets, negatives, settings, started)


def detect(
    tweets: list[HistoricalTweet],
    negatives: list[bool],
    settings: OpsSettings,
    started: float | None = None,
) -> Replay:
    """Run the live watch's detector over tweets in time order, each negative or not (a
    model's calls, or people's labels to judge the detector alone)."""
    started = time.perf_counter() if started is None else started
    stream = StreamDetector(BuzzDetector(BuzzRule.from_settings(settings.buzz)))
    buzzes = []
    for tweet, is_negative in zip(tweets, negatives, strict=True):
        if buzz := stream.observe(tweet.brand, tweet.at, is_negative):
            buzzes.append(buzz)
    stream.finish()
    return Replay(len(tweets), time.perf_counter() - started, buzzes, stream.closed)


def _chunks(tweets: list[HistoricalTweet], size: int) -> Iterator[list[HistoricalTweet]]:
    for start in range(0, len(tweets), size):
        yield tweets[start : start + size]


def alert_record(buzz: Buzz, model: str) -> dict[str, object]:
    """One line of alerts.jsonl."""
    return {
        "brand": buzz.brand,
        "window_start": buzz.window_start.isoformat(),
        "window_end": buzz.window_end.isoformat(),
        "crossed_at": buzz.at.isoformat(),
        "negatives": buzz.negatives,
        "tweets": buzz.total,
        "negative_share": round(buzz.share, 4),
        "expected": round(buzz.baseline.negatives, 2),
        "threshold": buzz.baseline.threshold,
        "reason": buzz.reason,
        "span_negatives": buzz.span_negatives,
        "span_expected": round(buzz.span_expected, 2),
        "baseline_share": round(buzz.baseline.share, 4),
        "baseline_days": buzz.baseline.days,
        "dispersion": round(buzz.baseline.dispersion, 3),
        "summary": buzz.summary,
        "model": model,
    }


def write_replay(result: Replay, out: Path, model: str) -> list[Path]:
    """alerts.jsonl and (where matplotlib is installed) chart.png into `out`; the files."""
    out.mkdir(parents=True, exist_ok=True)
    alerts = out / ALERTS_FILE
    with alerts.open("w", encoding="utf-8") as file:
        for buzz in result.buzzes:
            file.write(json.dumps(alert_record(buzz, model), ensure_ascii=False) + "\n")
    written = [alerts]
    chart = replay_chart(result.windows, result.buzzes)
    if chart is None:
        log.warning("no chart: matplotlib is not installed here")
    else:
        (out / CHART_FILE).write_bytes(chart)
        written.append(out / CHART_FILE)
    return written
