"""ui/scoring.py without Streamlit or the API: reading uploads, picking tweets, chunking."""

from __future__ import annotations

import pandas as pd
import pytest

from ui import scoring
from ui.scoring import FileRefused


def fake_predictions(texts: list[str]) -> list[dict]:
    """What /predict/batch answers, with P(positive) = 1 for texts that say 'love'."""
    return [
        {
            "label": "positive" if "love" in text else "negative",
            "probability_positive": 0.9 if "love" in text else 0.1 + len(text) / 1000,
            "model": {"name": "m", "version": "7"},
            "prediction_id": f"id-{text}",
        }
        for text in texts
    ]


def test_csv_with_a_text_column() -> None:
    data = b'id,text\n1,"love the crew, thanks"\n2,lost my bag\n'
    frame = scoring.read_tweets_file(data, "tweets.csv")
    assert list(frame.columns) == ["id", "text"]
    assert scoring.guess_text_column(frame) == "text"
    assert scoring.tweets_in(frame, "text").texts == ["love the crew, thanks", "lost my bag"]


def test_utf8_bom_and_emoji_are_read() -> None:
    data = "tweet\nlove it ✈️😀\n".encode("utf-8-sig")
    frame = scoring.read_tweets_file(data, "t.csv")
    assert list(frame.columns) == ["tweet"]
    assert frame["tweet"].tolist() == ["love it ✈️😀"]


def test_txt_is_one_tweet_per_line() -> None:
    frame = scoring.read_tweets_file(b"first tweet\n\nsecond, with a comma\n", "t.txt")
    tweets = scoring.tweets_in(frame, scoring.TEXT_COLUMN)
    assert tweets.texts == ["first tweet", "second, with a comma"]
    assert tweets.rows == [0, 2]
    assert tweets.empty == 1


def test_non_utf8_bytes_are_refused_with_what_to_do() -> None:
    with pytest.raises(FileRefused, match=r"not UTF-8 .*save it as UTF-8"):
        scoring.read_tweets_file("text\ncafé à Paris\n".encode("latin-1"), "t.csv")


def test_missing_column_names_the_columns_there_are() -> None:
    frame = scoring.read_tweets_file(b"id,tweet\n1,hello\n", "t.csv")
    with pytest.raises(FileRefused, match=r"no column 'text' in this file: .*'id', 'tweet'"):
        scoring.tweets_in(frame, "text")


def test_empty_and_too_long_rows_are_left_out_and_counted() -> None:
    long = "x" * (scoring.MAX_TEXT_CHARS + 1)
    frame = pd.DataFrame({"text": ["ok", "", "   ", long, "a\x00b", None]})
    tweets = scoring.tweets_in(frame, "text")
    assert tweets.texts == ["ok", "ab"]
    assert tweets.rows == [0, 4]
    assert (tweets.empty, tweets.too_long) == (3, 1)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "is empty"),
        (b"  \n\n", "is empty"),
        (b"text\n", "no tweets under it"),
        (b"text\n\n   \n", "no tweet to score|no tweets under it"),
        (b'a,b\n1,2\n"3,4,5\n', "not a readable CSV"),
    ],
)
def test_files_without_tweets_are_refused(data: bytes, match: str) -> None:
    with pytest.raises(FileRefused, match=match):
        frame = scoring.read_tweets_file(data, "t.csv")
        scoring.tweets_in(frame, "text")


def test_50000_rows_are_scored_in_50_calls_in_order() -> None:
    texts = [f"tweet {i}" for i in range(50_000)]
    calls: list[int] = []
    progress: list[tuple[int, int]] = []

    def score(chunk: list[str]) -> list[str]:
        calls.append(len(chunk))
        return [text.upper() for text in chunk]

    results = scoring.score_in_chunks(texts, score, on_progress=lambda *p: progress.append(p))
    assert calls == [1_000] * 50
    assert results == [text.upper() for text in texts]
    assert progress[0] == (1_000, 50_000) and progress[-1] == (50_000, 50_000)


def test_no_chunk_exceeds_the_api_limit_even_if_asked() -> None:
    calls: list[int] = []

    def score(chunk: list[str]) -> list[str]:
        calls.append(len(chunk))
        return chunk

    scoring.score_in_chunks(["t"] * 2_500, score, chunk_size=5_000)
    assert calls == [1_000, 1_000, 500]


def test_a_short_answer_is_an_error_not_a_shifted_table() -> None:
    with pytest.raises(RuntimeError, match="3 tweets sent, 2 results"):
        scoring.score_in_chunks(["a", "b", "c"], lambda chunk: chunk[:2])


def test_scored_table_most_negative_first_with_counts_and_histogram() -> None:
    frame = pd.DataFrame({"text": ["love it", "", "awful delay", "meh"]})
    tweets = scoring.tweets_in(frame, "text")
    table = scoring.scored_table(tweets, fake_predictions(tweets.texts))
    assert table["text"].tolist() == ["meh", "awful delay", "love it"]
    assert table["row"].tolist() == [4, 3, 1]  # rows as the file counts them
    assert scoring.label_counts(table) == {"negative": 2, "neutral": 0, "positive": 1}
    histogram = scoring.probability_histogram(table)
    assert len(histogram) == 20 and histogram["tweets"].sum() == 3
    csv = scoring.to_csv_bytes(table).decode()
    assert csv.splitlines()[0] == "row,text,label,probability_positive,model_version,prediction_id"
