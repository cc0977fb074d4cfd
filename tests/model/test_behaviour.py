"""Behaviour of a real model trained on real Sentiment140 tweets (Ribeiro et al.'s CheckList
kinds: minimum functionality, directional expectations, invariance)."""

from __future__ import annotations

from pathlib import Path

import pytest

from badbuzz.bundle.model import ModelBundle
from badbuzz.text import NormalizationConfig, normalize_many
from tests.shared_data import shared_sentiment140
from training.classical.pipelines import MODELS, build_pipeline
from training.data.sentiment140 import read_sentiment140
from training.data.split import stratified_sample
from training.export.sklearn_bundle import write_sklearn_bundle


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> ModelBundle:
    path = shared_sentiment140() / "sample_train.csv.gz"
    if not path.is_file():
        pytest.skip(f"shared Sentiment140 data not found at {path}")
    frame = stratified_sample(read_sentiment140(path), 30_000, seed=0)
    config = NormalizationConfig()
    pipeline = build_pipeline(MODELS["logreg"], "tfidf", 2, False, True, seed=0)
    pipeline.fit(normalize_many(frame["text"], config), frame["label"])
    directory = tmp_path_factory.mktemp("bundle") / "logreg"
    return ModelBundle.load(write_sklearn_bundle(directory, pipeline, config, 0.5, {}))


NEGATIVE = [
    "worst airline ever, they lost my bag",
    "flight delayed 5 hours and nobody tells us anything. awful",
    "I hate waiting on hold for two hours",
    "so disappointed, they cancelled my flight again",
]
POSITIVE = [
    "thank you for the upgrade, amazing crew",
    "great flight, friendly staff, landed early!",
    "I love this airline",
    "best customer service ever, thanks so much",
]


@pytest.mark.parametrize("text", NEGATIVE)
def test_clear_negatives(bundle: ModelBundle, text: str) -> None:
    assert bundle.predict([text]) == ["negative"]


@pytest.mark.parametrize("text", POSITIVE)
def test_clear_positives(bundle: ModelBundle, text: str) -> None:
    assert bundle.predict([text]) == ["positive"]


@pytest.mark.parametrize(
    ("text", "negated"),
    [
        ("I love this airline", "I do not love this airline"),
        ("the crew was great", "the crew was not great"),
        ("happy with the service", "not happy with the service"),
    ],
)
def test_adding_not_flips_clear_positives(bundle: ModelBundle, text: str, negated: str) -> None:
    assert bundle.predict([text, negated]) == ["positive", "negative"]


def test_complaint_lowers_the_score(bundle: ModelBundle) -> None:
    plain, worse = bundle.predict_proba(
        ["on my way to the airport", "on my way to the airport, flight cancelled, terrible"]
    )
    assert worse < plain - 0.2


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("@united lost my bag", "@delta lost my bag"),
        ("check this http://bit.ly/abc", "check this http://t.co/xyz"),
        ("#delayed again", "delayed again"),
    ],
)
def test_names_links_and_hashtag_marks_do_not_matter(bundle: ModelBundle, a: str, b: str) -> None:
    p_a, p_b = bundle.predict_proba([a, b])
    assert p_a == pytest.approx(p_b)


def test_bundle_dir_is_self_contained(bundle: ModelBundle) -> None:
    assert sorted(p.name for p in Path(bundle.directory).iterdir()) == [
        "manifest.json",
        "model.joblib",
    ]
