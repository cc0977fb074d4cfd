"""A client's labelled export (training/data/client.py) and what a model does on it
(training/evaluation/metrics.client_metrics): three labels, the binary metrics on two."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from badbuzz.errors import DataError
from training.data.client import ClientSource, read_client
from training.evaluation.metrics import client_metrics

HEADER = "tweet_id,airline,airline_sentiment,text\n"


def export(path: Path, rows: list[tuple[str, str]]) -> Path:
    lines = "".join(f'{i},Acme,{label},"{text}"\n' for i, (label, text) in enumerate(rows))
    content = (HEADER + lines).encode()
    path.write_bytes(gzip.compress(content) if path.suffix == ".gz" else content)
    return path


def test_labels_by_name_or_polarity_in_any_case(tmp_path: Path) -> None:
    path = export(
        tmp_path / "a.csv.gz",
        [("negative", "lost my bag"), ("Neutral", "boarding now"), ("POSITIVE", "great crew"),
         ("0", "delayed again"), ("4", "thanks!"), ("2", "gate 12")],
    )  # fmt: skip
    frame = read_client(ClientSource(path, "text", "airline_sentiment")).frame
    assert frame["label"].tolist() == [0, -1, 1, 0, 1, -1]
    assert frame["polarity"].tolist() == [0, 2, 4, 0, 4, 2]
    assert frame["text"].tolist()[:2] == ["lost my bag", "boarding now"]


@pytest.mark.parametrize(
    ("rows", "columns", "message"),
    [
        ([("negative", "a"), ("positive", "b")], ("tweet", "airline_sentiment"),
         "no column 'tweet' (--text-column); the header has tweet_id, airline"),
        ([("negative", "a"), ("positive", "b")], ("text", "sentiment"),
         "no column 'sentiment' (--label-column)"),
        ([("negative", "a"), ("mixed", "b"), ("", "c")], ("text", "airline_sentiment"),
         "2 rows of 'airline_sentiment' are none of negative, neutral, positive"),
        ([("negative", "a"), ("neutral", "b")], ("text", "airline_sentiment"),
         "need negative and positive tweets"),
    ],
)  # fmt: skip
def test_an_export_the_metrics_cannot_read_says_why(
    tmp_path: Path, rows: list[tuple[str, str]], columns: tuple[str, str], message: str
) -> None:
    path = export(tmp_path / "a.csv", rows)
    with pytest.raises(DataError, match=re.escape(message)):
        read_client(ClientSource(path, *columns))


def test_a_missing_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        read_client(ClientSource(tmp_path / "none.csv", "text", "airline_sentiment"))


def test_binary_metrics_on_two_labels_and_where_the_neutral_tweets_go() -> None:
    # 4 negatives, 1 positive (80 % negative), 4 neutrals of which 1 is called positive
    labels = np.array([0, 0, 0, 0, 1, -1, -1, -1, -1])
    scores = np.array([0.1, 0.2, 0.3, 0.7, 0.9, 0.2, 0.4, 0.55, 0.8])
    metrics = client_metrics(labels, scores, threshold=0.6)
    assert metrics["accuracy"] == pytest.approx(4 / 5)  # the 0.7 complaint read as praise
    assert metrics["positive_precision"] == pytest.approx(1 / 2)
    assert metrics["negative_share"] == pytest.approx(0.8)
    assert metrics["neutral_called_positive"] == pytest.approx(1 / 4)
    assert metrics["neutral_called_negative"] == pytest.approx(3 / 4)
    assert client_metrics(labels, scores, threshold=0.5)["neutral_called_positive"] == 0.5


def test_without_neutral_tweets_their_shares_are_not_a_number() -> None:
    metrics = client_metrics(np.array([0, 1]), np.array([0.2, 0.9]), threshold=0.5)
    assert np.isnan(metrics["neutral_called_positive"]) and metrics["accuracy"] == 1.0
    assert pd.isna(metrics["neutral_called_negative"])
