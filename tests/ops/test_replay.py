"""`badbuzz buzz replay`: the real Sentiment140 rows that carry a date, replayed in time order
by the command with a real bundle; a planted buzz found in a file by the same detector as the
live watch; times with offsets read, and bad rows named by line."""

from __future__ import annotations

import csv
import gzip
import json
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import cast

import numpy as np
import pytest

from badbuzz.bundle.model import Classified, Decision, ModelBundle
from badbuzz.errors import DataError
from badbuzz.settings import OpsSettings
from ops.brands import BrandMatcher
from ops.replay import parse_time, read_tweets, replay, write_replay
from tests.badbuzz_cli import run_badbuzz
from tests.bundles import write_tiny_sklearn_bundle

HEADER = ["tweet_id", "airline", "tweet_created", "text"]


@pytest.fixture(scope="module")
def bundle(sentiment140_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_sklearn_bundle(tmp_path_factory.mktemp("replay") / "bundle")


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_badbuzz("buzz", "replay", *args, home=home, env={"COLUMNS": "100"}, timeout=180)


def test_real_sentiment140_rows_replay_in_time_order_with_a_chart(
    sentiment140_dir: Path, bundle: Path, tmp_path: Path
) -> None:
    # the rows with a date, in the file's order (by label, then id): not time order
    with gzip.open(sentiment140_dir / "sample_train.csv.gz", "rt", encoding="latin-1") as file:
        dated = [row for row in csv.reader(file) if row[2]]
    source = tmp_path / "sentiment140.csv"
    with source.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["polarity", "id", "date", "query", "user", "text"])
        writer.writerows(dated)

    result = run(
        tmp_path / "home",
        str(source),
        "--text-column=text",
        "--time-column=date",
        f"--model-uri={bundle}",
    )

    assert result.returncode == 0, result.stderr
    assert f"Replayed {len(dated):,} tweets from 2009-04-07" in result.stdout
    [out] = (tmp_path / "home" / "reports").glob("buzz-replay-*")
    assert str(out / "alerts.jsonl") in result.stdout.replace("\n", "")
    chart = (out / "chart.png").read_bytes()
    assert chart.startswith(b"\x89PNG") and len(chart) > 5_000
    for line in (out / "alerts.jsonl").read_text().splitlines():
        alert = json.loads(line)
        assert datetime.fromisoformat(alert["window_start"]).tzinfo is not None


class KeywordModel:
    """Stands in for a bundle: 'worst' is negative, anything else positive."""

    decision = Decision()

    def classify(self, texts: Sequence[str]) -> Classified:
        scores = np.array([0.1 if "worst" in text else 0.9 for text in texts])
        return Classified(scores, self.decision.label_all(scores))


def write_airline_file(path: Path) -> None:
    """Four days of United and American tweets, 20 an hour each (30 % negative), and a
    pile-up of negative tweets about United from 2015-02-19 14:10 -08:00."""
    start = datetime(2015, 2, 16, 0, 0, tzinfo=UTC)
    rows = []
    for minute in range(0, 96 * 60, 3):
        at = start + timedelta(minutes=minute)
        mood = "worst" if minute % 30 in (0, 9, 18) else "great"
        rows.append([len(rows), "United", at, f"@united {mood} flight"])
        rows.append([len(rows), "", at, f"@AmericanAir {mood} flight"])  # brand from the text
    local = datetime(2015, 2, 19, 14, 10, tzinfo=timezone(timedelta(hours=-8)))
    rows += [
        [len(rows) + n, "United", local + timedelta(seconds=20 * n), f"worst delay ever {n}"]
        for n in range(30)
    ]
    rows.reverse()  # the file need not be in time order
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(HEADER)
        for tweet_id, airline, at, text in rows:
            writer.writerow([tweet_id, airline, f"{at:%Y-%m-%d %H:%M:%S %z}", text])


def test_a_planted_buzz_is_found_in_its_window_and_written(tmp_path: Path) -> None:
    source = tmp_path / "airline.csv"
    write_airline_file(source)
    settings = OpsSettings(
        home=tmp_path,
        brands="@united=United,@AmericanAir=American",  # type: ignore[arg-type]
    )
    tweets = read_tweets(source, "text", "tweet_created", "airline", BrandMatcher(settings.brands))
    assert [t.at for t in tweets] == sorted(t.at for t in tweets)

    result = replay(tweets, cast(ModelBundle, KeywordModel()), settings)
    write_replay(result, tmp_path / "out", "keywords")

    [alert] = [json.loads(line) for line in (tmp_path / "out" / "alerts.jsonl").open()]
    assert alert["brand"] == "United"
    assert alert["window_start"] == "2015-02-19T22:00:00+00:00"
    assert alert["window_end"] == "2015-02-19T23:00:00+00:00"
    assert alert["threshold"] > alert["expected"] == 6
    # 10 negatives of the hour's first 14 tweets: the share crosses before the volume does
    assert alert["reason"] == "share" and alert["negatives"] == 10
    assert alert["summary"].startswith("United: 10 negative tweets 22:00-23:00, about 6 expected")
    assert {b for b in result.windows} == {"United", "American"}
    assert (tmp_path / "out" / "chart.png").is_file()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2015-02-22 17:03:11 -0800", datetime(2015, 2, 23, 1, 3, 11, tzinfo=UTC)),
        ("2015-02-22T17:03:11Z", datetime(2015, 2, 22, 17, 3, 11, tzinfo=UTC)),
        ("2015-02-22 17:03:11+01:00", datetime(2015, 2, 22, 16, 3, 11, tzinfo=UTC)),
        ("Mon Apr 06 22:19:45 PDT 2009", datetime(2009, 4, 7, 5, 19, 45, tzinfo=UTC)),
    ],
)
def test_times_with_offsets_are_read_in_utc(text: str, expected: datetime) -> None:
    assert parse_time(text) == expected


def test_a_time_without_offset_says_to_add_one() -> None:
    with pytest.raises(ValueError, match="no UTC offset"):
        parse_time("2015-02-22 17:03:11")


def test_bad_rows_are_named_by_line_and_refuse_the_file(tmp_path: Path, bundle: Path) -> None:
    source = tmp_path / "bad.csv"
    source.write_text(
        "text,tweet_created\n"
        "ok,2015-02-22 17:03:11 -0800\n"
        '"two\nlines",2015-02-22 17:04:11 -0800\n'
        "no time,\n"
        "late,yesterday\n"
    )

    result = run(tmp_path / "home", str(source), f"--model-uri={bundle}")

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "lines 5, 6" in result.stderr and "error:" in result.stderr
    with pytest.raises(DataError, match="no column 'when'"):
        read_tweets(source, "text", "when", None, BrandMatcher({}))
    assert not (tmp_path / "home" / "reports").exists()
