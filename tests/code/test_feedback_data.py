"""Feedback as training data (training/feedback): verdicts to labels, cleaning, the gate
split, the Sentiment140 export, reading the API's table, the champion's recipe. The gate
rule: tests/code/test_gate.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import insert

from badbuzz.errors import DataError, UserError
from ops.database import connect, feedback
from training.data.sentiment140 import read_sentiment140
from training.feedback.clean import clean_feedback, split_gate, write_sentiment140
from training.feedback.recipe import UnsupportedChampion, champion_recipe
from training.feedback.store import FEEDBACK, read_feedback

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def verdicts(*rows: tuple[str, str, bool]) -> pd.DataFrame:
    """(text, predicted label, correct) rows, one second apart, oldest first."""
    return pd.DataFrame(
        [
            {
                "id": f"f{i}",
                "text": text,
                "predicted_label": predicted,
                "correct": correct,
                "created_at": T0 + timedelta(seconds=i),
            }
            for i, (text, predicted, correct) in enumerate(rows)
        ]
    )


def test_a_wrong_verdict_gives_the_other_label_a_right_one_the_predicted() -> None:
    clean = clean_feedback(
        verdicts(
            ("lost my bag again", "positive", False),
            ("great crew, thanks", "positive", True),
            ("delayed 3 hours", "negative", True),
            ("upgrade to first class!", "negative", False),
        )
    )
    assert dict(zip(clean.rows["text"], clean.rows["label"], strict=True)) == {
        "lost my bag again": 0,
        "great crew, thanks": 1,
        "delayed 3 hours": 0,
        "upgrade to first class!": 1,
    }
    assert clean.rows["polarity"].tolist() == [0, 4, 0, 4]


def test_duplicates_are_dropped_and_contradictions_dropped_and_counted() -> None:
    clean = clean_feedback(
        verdicts(
            ("Lost my bag AGAIN", "negative", True),
            ("lost my bag again", "positive", False),  # same text once normalised, same label
            ("@united lost my bag again", "negative", True),  # mention -> xxuser: another text
            ("ok flight", "positive", True),
            ("OK flight", "positive", False),  # same text, the other label: both dropped
            ("thanks!", "positive", True),
            ("best day", "mixed", True),  # not a label the API gives: dropped
        )
    )
    assert clean.rows["text"].tolist() == [
        "Lost my bag AGAIN",  # the oldest of the duplicates is kept
        "@united lost my bag again",
        "thanks!",
    ]
    assert (clean.verdicts, clean.duplicates, clean.contradictions, clean.unknown_labels) == (
        7,
        1,
        1,
        1,
    )


def test_the_hash_names_the_rows_not_their_order() -> None:
    rows = [("a good day", "positive", True), ("a bad day", "positive", False)]
    first = clean_feedback(verdicts(*rows))
    assert clean_feedback(verdicts(*reversed(rows))).hash == first.hash
    flipped = clean_feedback(verdicts(rows[0], ("a bad day", "positive", True)))
    assert flipped.hash != first.hash


def test_the_gate_is_the_latest_verdicts_and_disjoint() -> None:
    rows = clean_feedback(
        verdicts(*((f"tweet number {i}", "positive", i % 4 != 0) for i in range(100)))
    ).rows
    shuffled = rows.sample(frac=1.0, random_state=3)  # the split orders them by time itself
    train, gate = split_gate(shuffled, 0.3)
    assert len(gate) == 30 and len(train) == 70
    assert not set(train["id"]) & set(gate["id"])
    assert train["created_at"].max() < gate["created_at"].min()
    assert gate["id"].tolist() == [f"f{i}" for i in range(70, 100)]  # oldest first


def test_the_export_reads_back_as_sentiment140(tmp_path: Path) -> None:
    clean = clean_feedback(
        verdicts(
            ('she said "never again", and meant it', "positive", False),
            ("café au lait on board 😍", "positive", True),
            ("line one\nline two", "negative", True),
        )
    )
    path = write_sentiment140(clean.rows, tmp_path / "out" / "feedback.csv")
    back = read_sentiment140(path)
    assert back["text"].tolist() == clean.rows["text"].tolist()
    assert back["polarity"].tolist() == [0, 4, 0]
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first == '"0","f0","Wed May 01 12:00:00 UTC 2024","NO_QUERY","",' + (
        '"she said ""never again"", and meant it"'
    )


def test_reads_the_table_the_api_writes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'badbuzz.db'}"
    engine = connect(url)  # the API's own schema
    assert set(FEEDBACK.c.keys()) <= set(feedback.c.keys())
    with engine.begin() as connection:
        connection.execute(
            insert(feedback),
            [
                {"id": "b", "text": "late", "predicted_label": "positive", "correct": False,
                 "created_at": T0 + timedelta(seconds=1)},
                {"id": "a", "text": "nice", "predicted_label": "positive", "correct": True,
                 "created_at": T0},
            ],
        )  # fmt: skip
    engine.dispose()
    frame = read_feedback(url)
    assert frame["id"].tolist() == ["a", "b"]
    assert frame["correct"].tolist() == [True, False]
    # a scheduled retrain counts only what came after the champion
    assert read_feedback(url, since=T0)["id"].tolist() == ["b"]
    assert read_feedback(url, since=T0 + timedelta(seconds=1)).empty


def test_a_missing_database_or_table_says_which_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.db"
    with pytest.raises(DataError, match="BADBUZZ_DATABASE_URL"):
        read_feedback(f"sqlite:///{missing}")
    assert not missing.exists()
    empty = tmp_path / "empty.db"
    empty.touch()
    with pytest.raises(DataError, match="no feedback table"):
        read_feedback(f"sqlite:///{empty}")


LOGREG_PARAMS = {
    "model": "logreg",
    "vectorizer": "tfidf",
    "ngram_max": "2",
    "char_ngrams": "False",
    "lexicon_features": "True",
    "seed": "42",
    "best_C": "3",
    "data_rows": "2000",
    **{
        f"norm_{name}": "True"
        for name in ("html_entities", "urls", "mentions", "hashtags", "emoticons", "emoji")
    },
    "norm_elongations": "True",
    "norm_lowercase": "True",
    "norm_stopwords": "False",
    "norm_stemming": "snowball",
}


def test_the_recipe_is_read_back_from_the_champions_run() -> None:
    recipe = champion_recipe(
        "3", LOGREG_PARAMS, {"model_family": "logistic_regression", "data_hash": "abc"}
    )
    assert recipe.hyper_parameters == {"clf__C": 3}
    assert (recipe.vectorizer, recipe.ngram_max, recipe.lexicon_features) == ("tfidf", 2, True)
    assert recipe.normalization.stemming == "snowball" and not recipe.normalization.stopwords
    assert (recipe.seed, recipe.data_rows) == (42, 2000)
    assert recipe.pipeline().get_params()["clf__C"] == 3


@pytest.mark.parametrize(
    ("params", "family", "message"),
    [
        ({"model": "lstm"}, "lstm", "lstm model: its recipe cannot be refitted"),
        ({"model": "vader"}, "vader", "learns nothing"),
        ({**LOGREG_PARAMS, "best_C": "7"}, "logistic_regression", "not in logreg's grid"),
        ({"model": "logreg"}, "logistic_regression", "does not record"),
    ],
)
def test_a_champion_that_cannot_be_retrained_is_a_user_error(
    params: dict[str, str], family: str, message: str
) -> None:
    with pytest.raises(UnsupportedChampion, match=message) as raised:
        champion_recipe("3", params, {"model_family": family})
    assert isinstance(raised.value, UserError) and raised.value.exit_code == 2


def test_a_right_label_names_the_truth_of_a_wrong_neutral_prediction() -> None:
    rows = verdicts(
        ("when does boarding start", "neutral", True),  # truly neutral: the neutral head's
        ("they lost my bag", "neutral", False),  # wrong, but which way? dropped
        ("stuck on the tarmac again", "neutral", False),
        ("thanks for the upgrade", "negative", False),
        ("the seats were fine", "negative", False),
    )
    rows["right_label"] = [None, None, "negative", None, "neutral"]
    clean = clean_feedback(rows)
    assert dict(zip(clean.rows["text"], clean.rows["label"], strict=True)) == {
        "when does boarding start": -1,
        "stuck on the tarmac again": 0,
        "thanks for the upgrade": 1,
        "the seats were fine": -1,
    }
    assert clean.rows["polarity"].tolist() == [2, 0, 4, 2]
    assert clean.unknown_labels == 1


def test_a_database_from_before_right_label_reads_as_none_given(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = connect(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE feedback DROP COLUMN right_label")
        connection.exec_driver_sql(
            "INSERT INTO feedback (id, text, predicted_label, correct, created_at) "
            "VALUES ('a', 'late', 'positive', 0, '2024-05-01 12:00:00')"
        )
    engine.dispose()
    frame = read_feedback(url)
    assert frame["right_label"].isna().all()
    assert clean_feedback(frame).rows["label"].tolist() == [0]
    connect(url).dispose()  # the API's next start adds the column
    assert read_feedback(url)["right_label"].tolist() == [None]
