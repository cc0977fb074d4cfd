"""Event time and brand on every prediction, and `GET /buzz`, against the app in process
(TestClient, lifespan included) serving a tiny real bundle, on a database created before the
bad-buzz watch existed."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from api.app import create_app
from api.store import PredictionStore
from badbuzz.settings import ApiSettings
from ops.database import predictions
from tests.bundles import write_tiny_sklearn_bundle
from tests.processes import CLIENT_ENV_PREFIXES

from .support import API_KEY, KEY_HEADER

# The predictions table as the API created it before tweets had a time and a brand.
OLD_PREDICTIONS = """CREATE TABLE predictions (id VARCHAR(36) NOT NULL, text TEXT NOT NULL,
label VARCHAR(16) NOT NULL, probability_positive FLOAT NOT NULL, model_name VARCHAR(200) NOT
NULL, model_version VARCHAR(50) NOT NULL, created_at DATETIME NOT NULL, PRIMARY KEY (id))"""


@pytest.fixture(scope="module")
def tiny_bundle(sentiment140_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_sklearn_bundle(tmp_path_factory.mktemp("tiny-bundle") / "bundle")


@pytest.fixture(scope="module")
def client(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    home = tmp_path_factory.mktemp("api-buzz") / "home"
    home.mkdir()
    with sqlite3.connect(home / "badbuzz.db") as old:
        old.execute(OLD_PREDICTIONS)
        old.execute(
            "INSERT INTO predictions VALUES ('old-1', 'from before', 'negative', 0.2, "
            "'tweet-sentiment', '1', '2024-01-01 00:00:00.000000')"
        )
    with pytest.MonkeyPatch.context() as env:
        for name in [n for n in os.environ if n.startswith(CLIENT_ENV_PREFIXES)]:
            env.delenv(name)
        settings = ApiSettings(
            _env_file=None,
            home=home,
            model_bundle=tiny_bundle,
            api_key=SecretStr(API_KEY),
            reload_interval_s=0,
            brands="@united=United,@AmericanAir=American",  # type: ignore[arg-type]
        )
        with TestClient(create_app(settings), headers=KEY_HEADER) as test_client:
            yield test_client


def stored(client: TestClient, prediction_id: str) -> tuple[datetime | None, str | None]:
    store: PredictionStore = client.app.state.store  # type: ignore[attr-defined]
    store.flush()
    with store.engine.connect() as connection:
        row = connection.execute(
            select(predictions.c.tweeted_at, predictions.c.brand).where(
                predictions.c.id == prediction_id
            )
        ).one()
    return (row.tweeted_at and row.tweeted_at.replace(tzinfo=UTC)), row.brand


def test_a_tweet_keeps_its_time_and_brand(client: TestClient) -> None:
    body = {"text": "lost my bag", "created_at": "2015-02-22 17:03:11-08:00", "brand": "United"}

    answer = client.post("/predict", json=body).json()

    assert answer["created_at"] == "2015-02-23T01:03:11Z"
    assert answer["brand"] == "United"
    assert stored(client, answer["prediction_id"]) == (
        datetime(2015, 2, 23, 1, 3, 11, tzinfo=UTC),
        "United",
    )


def test_a_brand_that_is_not_configured_counts_under_all(client: TestClient) -> None:
    """Brands are configured: a sender cannot invent one (each would earn its own baseline
    and alerts), whatever it sends or mentions."""
    bodies = [{"text": f"@united worst airline {n}", "brand": f"Invented{n}"} for n in range(3)]

    answers = client.post("/predict/batch", json={"tweets": bodies}).json()["predictions"]
    single = client.post("/predict", json={"text": "lost my bag", "brand": "Delta"}).json()

    assert [a["brand"] for a in answers] == ["all", "all", "all"]
    assert single["brand"] == "all"
    assert stored(client, single["prediction_id"])[1] == "all"


def test_without_them_the_time_is_now_and_the_brand_comes_from_the_handles(
    client: TestClient,
) -> None:
    before = datetime.now(UTC)
    answers = client.post(
        "/predict/batch",
        json={"tweets": [{"text": "thanks @AMERICANAIR"}, {"text": "@united again?!"}]},
    ).json()["predictions"]

    assert [a["brand"] for a in answers] == ["American", "United"]
    assert (
        client.post("/predict/batch", json={"texts": ["no airline"]}).json()["predictions"][0][
            "brand"
        ]
        == "all"
    )
    moment, brand = stored(client, answers[0]["prediction_id"])
    assert brand == "American" and moment is not None
    assert before - timedelta(seconds=1) <= moment <= datetime.now(UTC)


def test_a_sent_brand_in_another_case_counts_as_the_configured_one(client: TestClient) -> None:
    answer = client.post("/predict", json={"text": "@AmericanAir hi", "brand": "united"})

    assert answer.json()["brand"] == "United"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"text": "x", "created_at": "2015-02-22T17:03:11"}, "no UTC offset"),
        ({"text": "x", "created_at": "yesterday"}, "not an ISO 8601 time"),
        ({"text": "x", "created_at": 1424624591}, "not an ISO 8601 time"),
        ({"text": "x", "brand": "Un*ted"}, "brand must be"),
    ],
)
def test_bad_times_and_brands_are_422_saying_what_to_send(
    client: TestClient, body: dict[str, object], says: str
) -> None:
    answer = client.post("/predict", json=body)

    assert answer.status_code == 422
    assert says in answer.json()["detail"][0]["msg"]
    batch = client.post("/predict/batch", json={"tweets": [{"text": "fine"}, body]})
    assert batch.status_code == 422 and says in batch.text


def test_buzz_counts_negatives_per_brand_and_window(client: TestClient) -> None:
    now = datetime.now(UTC)
    tweets = [
        {"text": f"@united worst airline ever, lost my bag {n}", "created_at": now.isoformat()}
        for n in range(3)
    ]
    client.post("/predict/batch", json={"tweets": tweets})
    client.app.state.store.flush()  # type: ignore[attr-defined]

    answer = client.get("/buzz", params={"brand": "UNITED", "hours": 3}, headers=KEY_HEADER)

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["window_seconds"] == 3600 and body["alerts"] == []
    [united] = body["brands"]
    assert united["brand"] == "United" and united["baseline"] == "learning"
    assert "learning" in united["learning"]
    assert len(united["windows"]) == 3
    last = united["windows"][-1]
    assert last["total"] >= 3 and last["negative_share"] == last["negatives"] / last["total"]
    every = client.get("/buzz", headers=KEY_HEADER).json()
    assert {"United", "American", "all"} <= {b["brand"] for b in every["brands"]}
    assert all(len(b["windows"]) == 48 for b in every["brands"])


@pytest.mark.parametrize("params", [{"hours": 0}, {"hours": 169}, {"brand": "a*b"}])
def test_buzz_refuses_what_it_cannot_show(client: TestClient, params: dict[str, object]) -> None:
    assert client.get("/buzz", params=params, headers=KEY_HEADER).status_code == 422
