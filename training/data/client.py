"""A client's labelled export (a CSV with a header, plain or gzipped, e.g. an airline's
mentions with `airline_sentiment`): the tweets of the client's domain, the first-class
measure of a model beside Sentiment140's manual test set.

Labels are read by name, `negative` / `neutral` / `positive` (any case), or as Sentiment140
polarities `0` / `2` / `4`. Binary metrics are computed on the negative and positive rows;
the neutral ones say what the model does with tweets that are neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from badbuzz.errors import DataError
from training.data.sentiment140 import NEGATIVE, POSITIVE, data_hash

NEUTRAL = -1
LABEL_OF_VALUE = {
    "negative": NEGATIVE,
    "neutral": NEUTRAL,
    "positive": POSITIVE,
    "0": NEGATIVE,
    "2": NEUTRAL,
    "4": POSITIVE,
}
POLARITY_OF_LABEL = {NEGATIVE: 0, NEUTRAL: 2, POSITIVE: 4}


@dataclass(frozen=True)
class ClientSource:
    """Where a client's labelled tweets are, and which columns hold them."""

    path: Path
    text_column: str
    label_column: str


@dataclass(frozen=True)
class ClientData:
    source: ClientSource
    frame: pd.DataFrame  # text, label (0 negative, 1 positive, -1 neutral), polarity 0/2/4

    @property
    def data_hash(self) -> str:
        return data_hash(self.frame)

    @property
    def labels(self) -> np.ndarray:
        return self.frame["label"].to_numpy()


def read_client(source: ClientSource) -> ClientData:
    """The export's texts and labels, in file order. A missing file or column, or a label
    that is none of the known ones, is a `DataError` that says what the file holds."""
    path = source.path
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text (byte {error.start}); save it as UTF-8") from error
    except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError, EOFError) as error:
        raise DataError(f"{path}: not a readable CSV with a header: {error}") from error
    for option, column in (
        ("--text-column", source.text_column),
        ("--label-column", source.label_column),
    ):
        if column not in table.columns:
            raise DataError(
                f"{path}: no column {column!r} ({option}); the header has "
                f"{', '.join(map(str, table.columns))}"
            )
    values = table[source.label_column].str.strip().str.lower()
    labels = values.map(LABEL_OF_VALUE)
    unknown = sorted(set(values[labels.isna()]))
    if unknown:
        raise DataError(
            f"{path}: {int(labels.isna().sum())} rows of {source.label_column!r} are none of "
            f"negative, neutral, positive (or 0, 2, 4): {', '.join(map(repr, unknown[:5]))}"
        )
    frame = pd.DataFrame({"text": table[source.text_column], "label": labels.astype(np.int8)})
    frame = frame[frame["text"].str.strip() != ""].reset_index(drop=True)
    if frame.empty:
        raise DataError(f"{path}: no tweets in column {source.text_column!r}")
    if not {NEGATIVE, POSITIVE} <= set(frame["label"]):
        raise DataError(
            f"{path}: the binary metrics need negative and positive tweets; "
            f"{source.label_column!r} holds only {sorted(set(values))}"
        )
    frame["polarity"] = frame["label"].map(POLARITY_OF_LABEL).astype(int)
    return ClientData(source, frame)
