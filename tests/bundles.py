"""Small real bundles for tests that need a model served, not a good one."""

from __future__ import annotations

from pathlib import Path

from tests.shared_data import shared_sentiment140

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


def demo_families() -> list[str]:
    """The families `make demo` trains and registers (the Makefile's DEMO_MODELS)."""
    from tests.shared_data import REPO

    for line in (REPO / "Makefile").read_text().splitlines():
        if line.startswith("DEMO_MODELS ?="):
            return line.split("=", 1)[1].strip().split(",")
    raise AssertionError("the Makefile sets no DEMO_MODELS")


def write_family_bundle(directory: Path, family: str, tweets: int = 600) -> Path:
    """A bundle of `family` built as `badbuzz train baseline` builds it (its default
    TrainConfig: TF-IDF word n-grams with VADER features beside them, or the bare lexicon),
    fitted on `tweets` real tweets with the first value of each searched parameter."""
    from badbuzz.text import normalize_many
    from tests.networks import real_tweets
    from training.classical.fit import TrainConfig
    from training.classical.pipelines import MODELS, build_pipeline, normalization_for
    from training.export.sklearn_bundle import write_sklearn_bundle

    config, spec = TrainConfig(models=(family,)), MODELS[family]
    pipeline = build_pipeline(
        spec,
        config.vectorizer,
        config.ngram_max,
        config.char_ngrams,
        config.lexicon_features,
        config.seed,
    )
    pipeline.set_params(**{key: values[0] for key, values in spec.param_grid.items()})
    frame = real_tweets(tweets)
    normalization = normalization_for(spec, config.normalization)
    pipeline.fit(normalize_many(frame["text"], normalization), frame["label"].to_numpy())
    metadata = {"model_family": spec.model_family}
    return write_sklearn_bundle(directory, pipeline, normalization, 0.5, metadata)
