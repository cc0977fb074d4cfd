"""No train/serve skew: the API's scores for real tweets equal the training side's scores of the
same bundle, whether /predict is called one at a time or by many clients at once (scored in
dynamic batches), and /predict/batch equals /predict one by one, in order."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import numpy as np
import pytest

from .support import Api, manual_tweets, metric_samples

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
    from badbuzz.bundle.model import ModelBundle

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
    from badbuzz.bundle.manifest import Manifest

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


def test_concurrent_clients_get_their_own_scores(
    api: Api, tweets: list[str], training_side: np.ndarray
) -> None:
    async def all_at_once() -> list[dict[str, object]]:
        limits = httpx.Limits(max_connections=len(tweets))
        async with httpx.AsyncClient(
            base_url=api.url, timeout=30.0, limits=limits, headers=api.ingest_headers
        ) as client:
            responses = await asyncio.gather(
                *(client.post("/predict", json={"text": t}) for t in tweets)
            )
        assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
        return [r.json() for r in responses]

    def batches_seen() -> dict[str, float]:
        text = api.client().get("/metrics").text
        counts = metric_samples(text, "badbuzz_predict_batch_size_bucket")
        return {dict(labels)["le"]: value for labels, value in counts.items()}

    before = batches_seen()
    answers = [a for _ in range(3) for a in asyncio.run(all_at_once())]
    served = np.array([a["probability_positive"] for a in answers], dtype=float)
    np.testing.assert_allclose(served, np.tile(training_side, 3), rtol=0, atol=1e-9)
    after = batches_seen()
    batches = after["+Inf"] - before["+Inf"]
    alone = after["1.0"] - before["1.0"]
    assert batches < len(answers), "requests that arrive together are scored together"
    assert alone < batches, f"{alone} of {batches} batches held a single request"
