from __future__ import annotations

import gzip
import logging
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from badbuzz.errors import DataError
from training.data.sentiment140 import binary, data_hash, read_sentiment140
from training.data.split import split_dataset, stratified_sample

ROW = '"{polarity}","1","Mon Apr 06 22:19:45 PDT 2009","NO_QUERY","user","{text}"\n'


def write_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("".join(ROW.format(polarity=p, text=t) for p, t in rows), encoding="latin-1")
    return path


def test_reads_labels_and_keeps_neutral_only_when_asked(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "s.csv", [("0", "bad"), ("2", "meh"), ("4", "good")])
    frame = read_sentiment140(path)
    assert frame["label"].tolist() == [0, 1]
    assert frame["line"].tolist() == [1, 3]
    with_neutral = read_sentiment140(path, keep_neutral=True)
    assert with_neutral["label"].tolist() == [0, -1, 1]
    assert binary(with_neutral)["text"].tolist() == ["bad", "good"]


def test_reads_gzip_and_zip_and_latin1(tmp_path: Path) -> None:
    content = ROW.format(polarity="4", text="caf\xe9 time").encode("latin-1")
    (tmp_path / "a.csv.gz").write_bytes(gzip.compress(content))
    with zipfile.ZipFile(tmp_path / "a.zip", "w") as archive:
        archive.writestr("x.csv", content)
    for name in ("a.csv.gz", "a.zip"):
        assert read_sentiment140(tmp_path / name)["text"].tolist() == ["caf\xe9 time"]


def test_bad_rows_are_skipped_with_line_numbers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = [("0", f"tweet {i}") for i in range(300)]
    path = tmp_path / "s.csv"
    write_csv(path, good)
    with path.open("a", encoding="latin-1") as handle:
        handle.write('"0","only three","columns"\n')
    with caplog.at_level(logging.WARNING):
        frame = read_sentiment140(path)
    assert len(frame) == 300
    assert "line 301: 3 columns, expected 6" in caplog.text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('"a","b","c"\n' * 5, r"line 1: 3 columns, expected 6"),
        (ROW.format(polarity="9", text="x") * 3, r"line 1: unknown polarity '9'"),
        ("", "no tweets found"),
    ],
)
def test_files_that_are_not_sentiment140_are_refused(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=message) as error:
        read_sentiment140(path)
    assert str(path) in str(error.value)


def test_missing_file_and_non_text_encoding(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        read_sentiment140(tmp_path / "missing.csv")
    path = tmp_path / "utf16.csv"
    path.write_bytes(b"\xff\xfe" + ROW.format(polarity="0", text="x").encode("utf-16-le"))
    with pytest.raises(DataError, match=str(path)):
        read_sentiment140(path, encoding="utf-8")


def make_frame(n: int) -> pd.DataFrame:
    labels = [i % 2 for i in range(n)]
    return pd.DataFrame(
        {"polarity": [4 * y for y in labels], "label": labels, "text": [f"t{i}" for i in range(n)]}
    )


def test_split_is_deterministic_stratified_and_disjoint() -> None:
    frame = make_frame(1000)
    first, again, other = split_dataset(frame, 1), split_dataset(frame, 1), split_dataset(frame, 2)
    assert first.test["text"].tolist() == again.test["text"].tolist()
    assert first.test["text"].tolist() != other.test["text"].tolist()
    assert (len(first.train), len(first.validation), len(first.test)) == (800, 100, 100)
    assert first.test["label"].mean() == 0.5
    parts = [set(p["text"]) for p in (first.train, first.validation, first.test)]
    assert sum(map(len, parts)) == len(set().union(*parts)) == 1000


def test_stratified_sample_keeps_balance() -> None:
    sample = stratified_sample(make_frame(1000), 100, seed=0)
    assert len(sample) == 100 and sample["label"].mean() == 0.5
    assert len(stratified_sample(make_frame(10), 100, seed=0)) == 10


def test_data_hash_changes_with_content_and_order() -> None:
    frame = make_frame(10)
    assert data_hash(frame) == data_hash(frame.copy())
    assert data_hash(frame) != data_hash(frame.iloc[::-1])
    changed = frame.copy()
    changed.loc[0, "text"] = "other"
    assert data_hash(frame) != data_hash(changed)


def test_utf8_read_as_latin1_is_repaired_and_real_latin1_kept(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    rows = ROW.format(polarity="0", text="caf\u00e9 \u2019").encode("utf-8")
    rows += ROW.format(polarity="4", text="na\xefve").encode("latin-1")  # not valid UTF-8
    path.write_bytes(rows)
    assert read_sentiment140(path)["text"].tolist() == ["caf\u00e9 \u2019", "na\xefve"]
