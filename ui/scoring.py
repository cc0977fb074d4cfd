"""Scoring a file of tweets, without Streamlit: read a CSV or TXT upload, pick the tweets of
one column, score them in chunks the API accepts, and shape the scored table.

Every problem a user can cause (bytes that are not UTF-8, a column that is not there, a file
with no tweets) raises `FileRefused` with a sentence that says what to do.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import pandas as pd

# The API's limits (api/schemas.py), repeated: the console talks HTTP only.
MAX_BATCH = 1_000
MAX_TEXT_CHARS = 1_000
TEXT_COLUMN = "text"  # the one column of a TXT file, and the guess for a CSV

T = TypeVar("T")


class FileRefused(ValueError):
    """The file cannot be scored as it is; the message says what to do."""


@dataclass(frozen=True)
class Tweets:
    """The tweets of one column, ready for the API, and the rows left out."""

    rows: list[int]  # positions of the scored rows in the file's table
    texts: list[str]
    empty: int  # blank rows, not scored
    too_long: int  # over MAX_TEXT_CHARS: the API refuses them


def read_tweets_file(data: bytes, filename: str) -> pd.DataFrame:
    """A CSV (with a header row) or a TXT file (one tweet per line) as a table of strings."""
    try:
        text = data.decode("utf-8-sig")  # Excel's "CSV UTF-8" starts with a BOM
    except UnicodeDecodeError as error:
        raise FileRefused(
            f"{filename} is not UTF-8 text (byte {error.start} cannot be read): save it as "
            "UTF-8 (in Excel: Save as > CSV UTF-8) and upload it again"
        ) from error
    if not text.strip():
        raise FileRefused(f"{filename} is empty: upload a file with one tweet per row")
    if filename.lower().endswith(".txt"):
        lines = text.splitlines()
        return pd.DataFrame({TEXT_COLUMN: lines}, dtype=str)
    try:
        frame = pd.read_csv(
            io.StringIO(text), dtype=str, keep_default_na=False, on_bad_lines="error"
        )
    except (pd.errors.ParserError, csv.Error) as error:
        raise FileRefused(
            f"{filename} is not a readable CSV ({error}): check that it has a header row and "
            "that texts with commas are quoted, or upload a TXT file with one tweet per line"
        ) from error
    if frame.empty:
        raise FileRefused(f"{filename} has a header row but no tweets under it")
    frame.columns = [str(column) for column in frame.columns]
    return frame


def guess_text_column(frame: pd.DataFrame) -> str:
    """`text` if the file has it, else the column with the longest values on average."""
    if TEXT_COLUMN in frame.columns:
        return TEXT_COLUMN
    lengths = {column: frame[column].astype(str).str.len().mean() for column in frame.columns}
    return max(lengths, key=lambda column: lengths[column])


def tweets_in(frame: pd.DataFrame, column: str) -> Tweets:
    """The texts of `column`, minus blank rows and rows too long for the API."""
    if column not in frame.columns:
        names = ", ".join(repr(str(name)) for name in frame.columns)
        raise FileRefused(f"no column {column!r} in this file: choose one of {names}")
    rows: list[int] = []
    texts: list[str] = []
    empty = too_long = 0
    for position, value in enumerate(frame[column].tolist()):
        # the API refuses a NUL; no tweet means one
        text = "" if value is None or pd.isna(value) else str(value).replace("\x00", "")
        if not text.strip():
            empty += 1
        elif len(text) > MAX_TEXT_CHARS:
            too_long += 1
        else:
            rows.append(position)
            texts.append(text)
    if not texts:
        raise FileRefused(
            f"column {column!r} holds no tweet to score ({empty} empty rows, {too_long} over "
            f"{MAX_TEXT_CHARS} characters): choose the column with the tweets' text"
        )
    return Tweets(rows, texts, empty, too_long)


def chunks(items: Sequence[T], size: int = MAX_BATCH) -> Iterator[Sequence[T]]:
    if size < 1:
        raise ValueError("chunk size must be at least 1")
    for start in range(0, len(items), size):
        yield items[start : start + size]


def score_in_chunks(
    texts: Sequence[str],
    score: Callable[[list[str]], list[T]],
    chunk_size: int = MAX_BATCH,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[T]:
    """`score` called once per chunk of at most `chunk_size` texts (the API's batch limit);
    `on_progress(done, total)` after each. The results keep the order of `texts`."""
    results: list[T] = []
    for chunk in chunks(texts, min(chunk_size, MAX_BATCH)):
        scored = score(list(chunk))
        if len(scored) != len(chunk):
            raise RuntimeError(f"{len(chunk)} tweets sent, {len(scored)} results came back")
        results.extend(scored)
        if on_progress is not None:
            on_progress(len(results), len(texts))
    return results


def scored_table(tweets: Tweets, predictions: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per scored tweet, the most negative first (lowest P(positive))."""
    table = pd.DataFrame(
        {
            "row": [position + 1 for position in tweets.rows],  # as a spreadsheet counts
            "text": tweets.texts,
            "label": [p["label"] for p in predictions],
            "probability_positive": [float(p["probability_positive"]) for p in predictions],
            "model_version": [p["model"]["version"] for p in predictions],
            "prediction_id": [p["prediction_id"] for p in predictions],
        }
    )
    return table.sort_values("probability_positive", kind="stable").reset_index(drop=True)


LABELS = ("negative", "neutral", "positive")  # neutral only from a model with a neutral band


def label_counts(table: pd.DataFrame) -> dict[str, int]:
    counts = table["label"].value_counts()
    return {label: int(counts.get(label, 0)) for label in LABELS}


def probability_histogram(table: pd.DataFrame, bins: int = 20) -> pd.DataFrame:
    """Tweets per probability bin (0-0.05, 0.05-0.10, ...), every bin present, for a chart."""
    edges = [i / bins for i in range(bins + 1)]
    binned = pd.cut(table["probability_positive"], edges, include_lowest=True)
    counts = binned.value_counts(sort=False)
    names = [f"{edges[i]:.2f}-{edges[i + 1]:.2f}" for i in range(bins)]
    return pd.DataFrame({"P(positive)": names, "tweets": counts.to_numpy()}).set_index(
        "P(positive)"
    )


def to_csv_bytes(table: pd.DataFrame) -> bytes:
    return table.to_csv(index=False).encode("utf-8")
