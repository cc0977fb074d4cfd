"""/metrics (Prometheus text): requests by route and status, predictions by label, feedback
by verdict, and the served model as an info metric; with several workers, every scrape
counts what all of them served."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from .support import KEY_HEADER, Api, metric_samples, start_api

NEGATIVE = "worst airline ever, they lost my bag and the crew was rude"
POSITIVE = "thank you for the upgrade, amazing crew, love it"


@pytest.fixture(scope="module")
def client(api: Api) -> httpx.Client:
    return api.client()


def scrape(client: httpx.Client) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def count(text: str, name: str, **labels: str) -> float:
    return metric_samples(text, name).get(tuple(sorted(labels.items())), 0.0)


def test_counters_move_by_exactly_what_was_sent(client: httpx.Client) -> None:
    before = scrape(client)
    labels = []
    for tweet in (NEGATIVE, POSITIVE):
        response = client.post("/predict", json={"text": tweet})
        assert response.status_code == 200
        labels.append(response.json()["label"])
    batch = client.post("/predict/batch", json={"texts": [NEGATIVE, POSITIVE, NEGATIVE]})
    labels += [p["label"] for p in batch.json()["predictions"]]
    assert client.post("/predict", json={"text": ""}).status_code == 422
    feedback = client.post(
        "/feedback", json={"text": NEGATIVE, "predicted_label": "positive", "correct": False},
        headers=KEY_HEADER,
    )  # fmt: skip
    assert feedback.status_code == 201
    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return count(after, name, **labels) - count(before, name, **labels)

    assert delta("badbuzz_requests_total", route="/predict", status="200") == 2
    assert delta("badbuzz_requests_total", route="/predict", status="422") == 1
    assert delta("badbuzz_requests_total", route="/predict/batch", status="200") == 1
    assert delta("badbuzz_requests_total", route="/feedback", status="201") == 1
    for label in ("negative", "positive"):
        assert delta("badbuzz_predictions_total", label=label) == labels.count(label)
    assert set(labels) == {"negative", "positive"}, labels
    assert delta("badbuzz_feedback_total", correct="false") == 1
    assert delta("badbuzz_feedback_total", correct="true") == 0
    latency = metric_samples(after, "badbuzz_request_seconds_count")
    assert latency[(("route", "/predict"),)] >= 3


def test_the_served_model_is_an_info_metric(client: httpx.Client) -> None:
    served = client.get("/model").json()
    info = metric_samples(scrape(client), "badbuzz_model_info")
    assert len(info) == 1, info
    ((labels, value),) = info.items()
    assert value == 1.0
    labels_dict = dict(labels)
    assert labels_dict["version"] == served["version"] == "local"
    assert labels_dict["name"] == "tweet-sentiment"
    assert labels_dict["model_family"] == served["model_family"]
    assert labels_dict["embedding_type"] == served["embedding_type"]


def test_with_two_workers_every_scrape_counts_all_of_them(
    local_bundle: Path, tmp_path: Path
) -> None:
    api = start_api(
        tmp_path / "home", tmp_path, {"BADBUZZ_MODEL_BUNDLE": str(local_bundle)}, workers=2
    )
    try:

        async def fresh_connections(path: str, count: int) -> list[httpx.Response]:
            async def one(i: int) -> httpx.Response:
                async with httpx.AsyncClient(base_url=api.url, timeout=30) as client:
                    if path == "/predict":
                        return await client.post(path, json={"text": f"{NEGATIVE} #{i}"})
                    return await client.get(path)

            return await asyncio.gather(*(one(i) for i in range(count)))

        predictions = asyncio.run(fresh_connections("/predict", 40))
        assert all(r.status_code == 200 for r in predictions)
        scrapes = asyncio.run(fresh_connections("/metrics", 12))
        for scrape in scrapes:
            assert scrape.status_code == 200
            served = sum(metric_samples(scrape.text, "badbuzz_predictions_total").values())
            assert served == 40, "each scrape sums every worker's counters"
            assert len(metric_samples(scrape.text, "badbuzz_model_info")) == 1
    finally:
        api.stop()
    assert list((tmp_path / "home" / "prometheus").glob("counter_*.db"))
