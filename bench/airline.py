"""The real data the client benchmarks share (`bench.client`, `bench.client_domain`): where
the files are, and the airline-dev export's negative and positive tweets in time order."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from training.data.client import ClientSource, read_client

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
AIRLINE = SHARED / "airline-dev" / "tweets.csv.gz"
SENTIMENT140 = SHARED / "sentiment140" / "sample_train.csv.gz"
MANUAL = SHARED / "sentiment140" / "testdata.manual.2009.06.14.csv"
LABEL_COLUMN = "airline_sentiment"


def airline_tweets(keep_neutral: bool = False) -> pd.DataFrame:
    """The export's negative and positive tweets (text, label 0/1, created: UTC), oldest
    first, as a client's verdicts would arrive; with `keep_neutral`, its neutral ones too
    (label -1)."""
    client = read_client(ClientSource(AIRLINE, "text", LABEL_COLUMN)).frame
    times = pd.read_csv(AIRLINE, usecols=["tweet_created"], dtype=str)["tweet_created"]
    created = pd.to_datetime(times.iloc[client.index], utc=True)
    client = client.assign(created=created.to_numpy())
    if not keep_neutral:
        client = client[client["label"] >= 0]
    return client.sort_values("created", kind="stable").reset_index(drop=True)
