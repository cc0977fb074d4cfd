"""No train/serve skew: the API's scores for real tweets equal the training side's scores of the
same bundle, and /predict/batch equals /predict one by one, in order."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest

from .support import Api, manual_tweets

EXTRA = [
    "@united ✈️😡 lost my bag AGAIN!!! http://t.co/xyz #fail",
    "&quot;Best flight ever&quot; &lt;3 :) sooooo good",
    "Merci Air France, équipage génial à Zürich ☺",
]


@pytest.fixture(scope="module")
def tweets() -> list[str]:
    texts = manual_tweets(50) + EXTRA
    assert len(texts) == 53
    return texts


@pytest.fixture(scope="module")
def training_side(local_bundle: Path, tweets: list[str]) -> np.ndarray:
    from training.bundle import ModelBundle

    return ModelBundle.load(local_bundle).predict_proba(tweets)


@pytest.fixture(scope="module")
def single(api: Api, tweets: list[str]) -> list[dict[str, object]]:
    client: httpx.Client = api.client()
    answers = []
    for tweet in tweets:
        response = client.post("/predict", json={"text": tweet})
        assert response.status_code == 200, response.text
        answers.append(response.json())
    return answers


def test_api_scores_equal_the_training_side(
    single: list[dict[str, object]], training_side: np.ndarray
) -> None:
    served = np.array([a["probability_positive"] for a in single], dtype=float)
    np.testing.assert_allclose(served, training_side, rtol=0, atol=1e-9)
    assert len({round(float(p), 6) for p in served}) > 10, "scores should vary across tweets"


def test_labels_follow_the_bundle_threshold(
    single: list[dict[str, object]], training_side: np.ndarray, local_bundle: Path
) -> None:
    from training.bundle import Manifest

    manifest = Manifest.read(local_bundle)
    expected = [manifest.labels[str(int(p >= manifest.threshold))] for p in training_side]
    assert [a["label"] for a in single] == expected


def test_batch_equals_single_in_order(
    api: Api, tweets: list[str], single: list[dict[str, object]]
) -> None:
    response = api.client().post("/predict/batch", json={"texts": tweets})
    assert response.status_code == 200, response.text
    batch = response.json()["predictions"]
    assert len(batch) == len(tweets)
    for one, many in zip(single, batch, strict=True):
        assert many["label"] == one["label"]
        assert many["probability_positive"] == pytest.approx(one["probability_positive"], abs=1e-12)
        assert many["model"] == one["model"]
    ids = [p["prediction_id"] for p in batch]
    assert len(set(ids)) == len(ids), "each batch item gets its own prediction id"
