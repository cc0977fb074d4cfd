"""The client's domain of the feedback tests: travel tweets of the Sentiment140 training file
(742 of them), which a champion trained on 2,000 random tweets has hardly seen, and users who
judge what the API predicts for them. No pytest here: bench.retrain uses TRAVEL too."""

from __future__ import annotations

from pathlib import Path

import httpx
import pandas as pd
from sqlalchemy import insert
from sqlalchemy.engine import Engine

TRAVEL = r"\b(?:flight|flights|airline|airport|plane|flying|fly|delayed|luggage|baggage)\b"
FEEDBACK_TWEETS = 600


def travel_tweets(sentiment140: Path) -> pd.DataFrame:
    from training.data.sentiment140 import read_sentiment140

    frame = read_sentiment140(sentiment140 / "sample_train.csv.gz")
    travel = frame[frame["text"].str.contains(TRAVEL, case=False, regex=True)]
    return travel.sample(FEEDBACK_TWEETS, random_state=123).reset_index(drop=True)


def judge(client: httpx.Client, tweets: pd.DataFrame, headers: dict[str, str]) -> set[str]:
    """The users send `tweets` to POST /predict/batch and tell POST /feedback (with `headers`,
    the API key), from the true labels, whether each prediction was right; the versions that
    predicted them."""
    answer = client.post("/predict/batch", json={"texts": tweets["text"].tolist()})
    assert answer.status_code == 200, answer.text
    predictions = answer.json()["predictions"]
    for prediction, label in zip(predictions, tweets["label"], strict=True):
        verdict = {
            "prediction_id": prediction["prediction_id"],
            "correct": prediction["label"] == ("positive" if label == 1 else "negative"),
        }
        sent = client.post("/feedback", json=verdict, headers=headers)
        assert sent.status_code == 201, sent.text
    return {prediction["model"]["version"] for prediction in predictions}


def store_verdicts(engine: Engine, tweets: pd.DataFrame) -> None:
    """Verdicts on `tweets` as the API stores them, without the API: each was predicted
    negative, and the verdict says whether it is (its Sentiment140 label 0)."""
    from ops.database import feedback, new_id, utcnow

    with engine.begin() as connection:
        connection.execute(
            insert(feedback),
            [
                {"id": new_id(), "text": text, "predicted_label": "negative",
                 "correct": bool(label == 0), "created_at": utcnow()}
                for text, label in zip(tweets["text"], tweets["label"], strict=True)
            ],
        )  # fmt: skip


def store_neutral_verdicts(engine: Engine, texts: list[str]) -> None:
    """Verdicts on neutral `texts` as the API stores them: each was predicted negative, and
    the user said it is neutral (`right_label`)."""
    from ops.database import feedback, new_id, utcnow

    with engine.begin() as connection:
        connection.execute(
            insert(feedback),
            [
                {"id": new_id(), "text": text, "predicted_label": "negative",
                 "correct": False, "right_label": "neutral", "created_at": utcnow()}
                for text in texts
            ],
        )  # fmt: skip
