"""Small real bundles for tests that need a model served, not a good one."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import shared_sentiment140

MANUAL_TEST_FILE = "testdata.manual.2009.06.14.csv"
TWEETS_PER_LABEL = 30


def write_tiny_sklearn_bundle(directory: Path) -> Path:
    """TF-IDF + logistic regression fitted on 60 labelled tweets of the manual test set: a
    real scikit-learn bundle, written in a second."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from badbuzz.text import NormalizationConfig
    from training.data.sentiment140 import read_sentiment140
    from training.export.sklearn_bundle import write_sklearn_bundle

    tweets = read_sentiment140(shared_sentiment140() / MANUAL_TEST_FILE)
    tweets = tweets.groupby("label").head(TWEETS_PER_LABEL)
    pipeline = make_pipeline(TfidfVectorizer(), LogisticRegression())
    pipeline.fit(tweets["text"].tolist(), tweets["label"].tolist())
    metadata = {"model_family": "logreg", "embedding_type": "tfidf"}
    return write_sklearn_bundle(directory, pipeline, NormalizationConfig(), 0.5, metadata)
