"""Scoring a large archive of tweets on this box: a CSV with a header read in chunks, each
chunk scored through the bundle's batch path, the scores appended to the output CSV, so
memory stays flat whatever the archive's size.

The CSV dialect is the one every engine reads and writes (Spark's options in
`training.scoring.spark` match it): comma-separated, UTF-8 with or without a BOM, fields
quoted with `"` and a quote inside doubled, line breaks kept inside quoted fields, every
field a string (ids keep their leading zeros and all their digits), an empty field an empty
string. Every row read is a row written: the output is read back and its rows counted before
it takes its name.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from badbuzz.bundle.model import ModelBundle
from badbuzz.errors import DataError, RowCountError

SCORE_COLUMNS = ["label", "probability_positive"]


@dataclass(frozen=True)
class ScoringRun:
    tweets: int  # rows read, and as many written
    seconds: float
    out: Path

    @property
    def tweets_per_s(self) -> float:
        return self.tweets / self.seconds if self.seconds else float("inf")


def read_chunks(path: Path, text_column: str, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """The CSV in chunks of `chunk_rows` rows; a missing column or a malformed row is a
    `DataError` naming the file (and the line, as the CSV parser reports it)."""
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        reader = pd.read_csv(path, chunksize=chunk_rows, dtype=str, keep_default_na=False)
        for number, chunk in enumerate(reader):
            if number == 0 and text_column not in chunk.columns:
                raise DataError(
                    f"{path}: no column {text_column!r} (the header has "
                    f"{', '.join(map(str, chunk.columns))}); choose one with --text-column"
                )
            yield chunk
    except pd.errors.ParserError as error:
        raise DataError(f"{path}: not a readable CSV: {error}") from error
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text (byte {error.start}); save it as UTF-8") from error
    except pd.errors.EmptyDataError as error:
        raise DataError(f"{path}: the file is empty") from error


def score_archive(
    bundle: ModelBundle,
    path: Path,
    out: Path,
    text_column: str = "text",
    chunk_rows: int = 10_000,
    on_progress: Callable[[int], None] | None = None,
) -> ScoringRun:
    """Write `out`: every row of `path` with `label` and `probability_positive` added, in
    the input's order; `RowCountError` if `out` would not hold as many rows as were read."""
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")  # `out` appears only when complete
    start = time.perf_counter()
    tweets = 0
    with partial.open("w", encoding="utf-8", newline="") as sink:
        for number, chunk in enumerate(read_chunks(path, text_column, chunk_rows)):
            classified = bundle.classify(chunk[text_column].tolist())
            chunk["label"] = classified.labels
            chunk["probability_positive"] = classified.p_positive
            chunk.to_csv(sink, header=number == 0, index=False)
            tweets += len(chunk)
            if on_progress is not None:
                on_progress(len(chunk))
    check_row_counts(tweets, count_rows(partial, chunk_rows), path, partial)
    partial.replace(out)
    return ScoringRun(tweets, time.perf_counter() - start, out)


def count_rows(path: Path, chunk_rows: int = 100_000) -> int:
    """Rows of a CSV with a header, read in the scoring dialect (a quoted line break is one
    row, not two)."""
    reader = pd.read_csv(path, chunksize=chunk_rows, dtype=str, keep_default_na=False, usecols=[0])
    return sum(len(chunk) for chunk in reader)


def check_row_counts(read: int, written: int, source: Path, out: Path) -> None:
    if read != written:
        raise RowCountError(
            f"read {read:,} tweets from {source} but the scored output holds {written:,} rows: "
            f"it is incomplete, left in {out} to inspect; please report this with the file"
        )
