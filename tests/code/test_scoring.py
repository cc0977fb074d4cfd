"""Scoring an archive keeps every row, its id and its text, on both engines: the local
reader and writer, and Spark's (a real JVM in local mode) with the same CSV dialect; a run
that would write fewer or more rows than it read is an error naming the counts."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pytest

from badbuzz.bundle.model import ModelBundle
from badbuzz.errors import RowCountError
from tests.archives import AWKWARD_TWEETS, HEADER, write_awkward_archive
from training.scoring import archive as local_engine
from training.scoring.archive import check_row_counts, read_chunks, score_archive

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

COPIES = 3  # 54 rows: several chunks here, several partitions on Spark


def expected_rows() -> list[tuple[str, str, str]]:
    return [
        (tweet_id if copy == 0 else f"{tweet_id}-{copy}", text, "@united")
        for copy in range(COPIES)
        for tweet_id, text in AWKWARD_TWEETS
    ]


def read_scored(*parts: Path) -> pd.DataFrame:
    """An engine's output as a person reads it: pandas, every field a string."""
    return pd.concat(pd.read_csv(part, dtype=str, keep_default_na=False) for part in parts)


def rows_of(frame: pd.DataFrame) -> list[tuple[str, str, str]]:
    return list(frame[list(HEADER)].itertuples(index=False, name=None))


@pytest.fixture(params=["\r\n", "\n"], ids=["crlf", "lf"])
def archive(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    return write_awkward_archive(tmp_path / "tweets.csv", request.param, COPIES)


def test_the_archive_is_as_awkward_as_promised(archive: Path) -> None:
    raw = archive.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw.count(b"\n") > len(expected_rows()) + 1  # line breaks inside tweets


def test_the_local_reader_keeps_every_row(archive: Path) -> None:
    chunks = list(read_chunks(archive, "text", chunk_rows=5))
    assert rows_of(pd.concat(chunks)) == expected_rows()


def test_local_scoring_writes_every_row_with_its_id(
    tiny_bundle: Path, archive: Path, tmp_path: Path
) -> None:
    bundle = ModelBundle.load(tiny_bundle)
    out = tmp_path / "scored.csv"
    run = score_archive(bundle, archive, out, chunk_rows=5)
    assert run.tweets == len(expected_rows())
    scored = read_scored(out)
    assert rows_of(scored) == expected_rows()
    texts = [text for _, text, _ in expected_rows()]
    assert scored["probability_positive"].astype(float).tolist() == pytest.approx(
        bundle.predict_proba(texts).tolist(), abs=1e-12
    )


def test_a_row_count_mismatch_is_an_error_naming_the_counts(
    tiny_bundle: Path, archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(RowCountError, match=r"read 2,000 tweets from .* holds 1,999 rows"):
        check_row_counts(2_000, 1_999, archive, tmp_path / "out")
    monkeypatch.setattr(local_engine, "count_rows", lambda path, chunk_rows=0: 1)
    out = tmp_path / "scored.csv"
    with pytest.raises(RowCountError, match=f"read {len(expected_rows())} tweets"):
        score_archive(ModelBundle.load(tiny_bundle), archive, out)
    assert not out.exists()  # the incomplete output is left aside, under another name
    assert (tmp_path / "scored.csv.partial").is_file()


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkSession]:
    if shutil.which("java") is None:
        pytest.fail("Spark needs a JVM: install Java 17+ (Debian: openjdk-17-jre-headless)")
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("badbuzz-test-scoring")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    yield session
    session.stop()


def test_spark_reads_what_the_local_engine_reads(spark: SparkSession, archive: Path) -> None:
    from training.scoring.spark import read_tweets

    rows = read_tweets(spark, archive)
    assert tuple(rows.columns) == HEADER  # the BOM is not part of the first name
    assert [tuple(row) for row in rows.collect()] == expected_rows()


def test_spark_writes_every_row_in_order_as_the_local_engine_reads_it(
    spark: SparkSession, archive: Path, tmp_path: Path
) -> None:
    from training.scoring.spark import ROW, count_written, read_tweets, spread_in_order, write_rows

    out = tmp_path / "spark-out"
    write_rows(spread_in_order(read_tweets(spark, archive), 3).drop(ROW), out)
    parts = sorted(out.glob("part-*.csv"))
    assert len(parts) == 3
    assert rows_of(read_scored(*parts)) == expected_rows()  # part files in name order
    assert count_written(spark, out) == len(expected_rows())
