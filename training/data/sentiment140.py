"""Reading Sentiment140 files: the 6-column latin-1 CSV, plain, gzipped or zipped.

Columns: target, id, date, flag (query), user, text. Polarity 0 = negative,
2 = neutral (manual test set only), 4 = positive.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import logging
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from badbuzz.errors import DataError

log = logging.getLogger(__name__)

TRAIN_FILE = "training.1600000.processed.noemoticon.csv"
MANUAL_TEST_FILE = "testdata.manual.2009.06.14.csv"
SAMPLE_TRAIN_FILE = "sample_train.csv.gz"
ARCHIVE_FILE = "trainingandtestdata.zip"

COLUMNS = ("target", "id", "date", "flag", "user", "text")
NEGATIVE, POSITIVE = 0, 1
LABEL_NAMES = {NEGATIVE: "negative", POSITIVE: "positive"}
POLARITY_TO_LABEL = {"0": NEGATIVE, "4": POSITIVE}
NEUTRAL_POLARITY = "2"


@dataclass
class ReadReport:
    path: str
    rows: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)


@contextmanager
def _open_text(path: Path, member: str | None, encoding: str) -> Iterator[IO[str]]:
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith(".csv")]
            chosen = member if member in names else (names[0] if len(names) == 1 else None)
            if chosen is None:
                raise DataError(f"{path}: say which CSV to read, one of {names}")
            with archive.open(chosen) as raw:
                yield io.TextIOWrapper(raw, encoding=encoding, newline="")
    elif path.suffix == ".gz":
        with gzip.open(path, "rt", encoding=encoding, newline="") as handle:
            yield handle
    else:
        with path.open(encoding=encoding, newline="") as handle:
            yield handle


def read_sentiment140(
    path: Path,
    *,
    member: str | None = None,
    keep_neutral: bool = False,
    encoding: str = "latin-1",
    max_bad_fraction: float = 0.01,
) -> pd.DataFrame:
    """Read a Sentiment140 CSV into columns `polarity`, `label`, `text`, `line`.

    Rows with a wrong column count, an unknown polarity or an empty text are
    skipped and logged with their line numbers; when more than
    `max_bad_fraction` of the file is bad, the whole file is refused.
    `label` is 0 (negative) / 1 (positive), and -1 for kept neutral rows.
    """
    report = ReadReport(path=str(path))
    polarities: list[str] = []
    texts: list[str] = []
    lines: list[int] = []
    try:
        with _open_text(path, member, encoding) as handle:
            reader = csv.reader(handle)
            for row in reader:
                line = reader.line_num
                if len(row) != len(COLUMNS):
                    report.skipped.append((line, f"{len(row)} columns, expected {len(COLUMNS)}"))
                    continue
                polarity, text = row[0].strip(), row[5]
                if polarity not in POLARITY_TO_LABEL and polarity != NEUTRAL_POLARITY:
                    report.skipped.append((line, f"unknown polarity {polarity!r}"))
                    continue
                if not text.strip():
                    report.skipped.append((line, "empty text"))
                    continue
                if polarity == NEUTRAL_POLARITY and not keep_neutral:
                    continue
                polarities.append(polarity)
                texts.append(repair_utf8(text) if encoding == "latin-1" else text)
                lines.append(line)
                report.rows += 1
    except UnicodeDecodeError as error:
        raise DataError(
            f"{path}: not {encoding} text ({error.reason} at byte {error.start})"
        ) from error
    except (csv.Error, zipfile.BadZipFile, gzip.BadGzipFile, EOFError) as error:
        raise DataError(f"{path}: unreadable ({error})") from error

    _check_report(report, max_bad_fraction)
    frame = pd.DataFrame({"polarity": polarities, "text": texts, "line": lines})
    frame["polarity"] = frame["polarity"].astype(int)
    frame["label"] = frame["polarity"].map({0: NEGATIVE, 4: POSITIVE, 2: -1}).astype(np.int8)
    return frame


def repair_utf8(text: str) -> str:
    """Sentiment140 holds UTF-8 bytes that a latin-1 read turns into mojibake ("caf\xc3\xa9");
    decode them as UTF-8 where they are valid UTF-8, as a live tweet would arrive."""
    if text.isascii():
        return text
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


def _check_report(report: ReadReport, max_bad_fraction: float) -> None:
    total = report.rows + len(report.skipped)
    if report.skipped:
        shown = "; ".join(f"line {n}: {why}" for n, why in report.skipped[:10])
        more = f" (and {len(report.skipped) - 10} more)" if len(report.skipped) > 10 else ""
        if report.rows == 0 or len(report.skipped) > max_bad_fraction * total:
            raise DataError(
                f"{report.path}: {len(report.skipped)} of {total} rows are not Sentiment140 rows "
                f"(6 quoted columns: target 0/2/4, id, date, query, user, text): {shown}{more}"
            )
        log.warning("%s: skipped %d bad rows: %s%s", report.path, len(report.skipped), shown, more)
    if report.rows == 0:
        raise DataError(f"{report.path}: no tweets found")


def data_hash(frame: pd.DataFrame) -> str:
    """Content hash of labels and texts, in order: the dataset version of a run."""
    digest = hashlib.sha256()
    for polarity, text in zip(frame["polarity"], frame["text"], strict=True):
        digest.update(f"{polarity}\t{text}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def binary(frame: pd.DataFrame) -> pd.DataFrame:
    """Only negative and positive rows (the manual test set has 359)."""
    return frame[frame["label"] >= 0].reset_index(drop=True)
