"""What may come in through /predict*, in process: the ingest key (stored predictions drive
the alerts), brands a sender cannot invent, and the bounds that answer 503 with Retry-After
instead of queueing without end (requests at once, tweets waiting for a batch, predictions
waiting to be stored); /buzz shows at most `limit` brands."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError
from sqlalchemy import func, select
from starlette.types import Receive, Scope, Send

from api.limits import ConcurrencyLimit, Overloaded
from api.store import PredictionStore
from badbuzz.settings import ApiSettings
from ops.database import predictions
from tests.bundles import write_tiny_sklearn_bundle
from tests.conftest import BundleKeys

from .support import API_KEY, KEY_HEADER, serving

INGEST_KEY = "test-ingest-key-0123456789abcdef"
INGEST_HEADER = {"X-API-Key": INGEST_KEY}
TWEET = {"text": "@united lost my bag again"}
NO_KEY = (
    "send the ingest key (BADBUZZ_INGEST_KEY, else the API key) in X-API-Key: predictions are "
    "stored and drive the alerts"
)
WRONG_KEY = "wrong key: send the ingest key (BADBUZZ_INGEST_KEY, else the API key) in X-API-Key"
PREDICT = [("/predict", TWEET), ("/predict/batch", {"texts": ["a", "b"]})]


@pytest.fixture(scope="module")
def tiny_bundle(sentiment140_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_sklearn_bundle(tmp_path_factory.mktemp("tiny-bundle") / "bundle")


@pytest.fixture(scope="module")
def keyed(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """An API key and an ingest key set."""
    home = tmp_path_factory.mktemp("ingress-keyed") / "home"
    with serving(
        home, tiny_bundle, api_key=SecretStr(API_KEY), ingest_key=SecretStr(INGEST_KEY)
    ) as client:
        yield client


# --- the ingest key ------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "body"), PREDICT)
def test_storing_predictions_needs_the_ingest_key(
    keyed: TestClient, path: str, body: dict[str, Any]
) -> None:
    missing = keyed.post(path, json=body)
    assert missing.status_code == 401
    assert missing.json() == {"detail": NO_KEY}
    wrong = keyed.post(path, json=body, headers={"X-API-Key": INGEST_KEY + "x"})
    assert wrong.status_code == 403
    assert wrong.json() == {"detail": WRONG_KEY}
    assert keyed.post(path, json=body, headers=INGEST_HEADER).status_code == 200
    # the admin holds every key's power: the console scores files with the one key it has
    assert keyed.post(path, json=body, headers=KEY_HEADER).status_code == 200


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/feedback", {"text": "love it", "predicted_label": "negative", "correct": False}),
    ("POST", "/admin/reload", None),
    ("GET", "/buzz", None),
    ("GET", "/alerts", None),
])  # fmt: skip
def test_the_ingest_key_opens_no_admin_route(
    keyed: TestClient, method: str, path: str, body: dict[str, Any] | None
) -> None:
    refused = keyed.request(method, path, json=body, headers=INGEST_HEADER)
    assert refused.status_code == 403
    assert refused.json() == {
        "detail": "this is the ingest key, which opens /predict and /predict/batch only: send "
        "the API key in X-API-Key"
    }
    assert keyed.request(method, path, json=body, headers=KEY_HEADER).is_success


def test_without_an_ingest_key_predict_asks_for_the_api_key(
    tiny_bundle: Path, tmp_path: Path
) -> None:
    with serving(tmp_path / "home", tiny_bundle, api_key=SecretStr(API_KEY)) as client:
        assert client.post("/predict", json=TWEET).status_code == 401
        assert client.post("/predict", json=TWEET, headers=INGEST_HEADER).status_code == 403
        assert client.post("/predict", json=TWEET, headers=KEY_HEADER).status_code == 200


@pytest.mark.parametrize(
    "settings",
    [{}, {"api_key": SecretStr(API_KEY), "log_predictions": False}],
    ids=["development-without-keys", "predictions-not-stored"],
)
def test_predict_is_open_when_no_key_is_set_or_nothing_is_stored(
    tiny_bundle: Path, tmp_path: Path, settings: dict[str, Any]
) -> None:
    with serving(tmp_path / "home", tiny_bundle, **settings) as client:
        for path, body in PREDICT:
            assert client.post(path, json=body).status_code == 200


@pytest.mark.parametrize("ingest_key", ["change-me", "short-secret"])
def test_production_refuses_an_ingest_key_that_is_no_secret(
    ingest_key: str, bundle_keys: BundleKeys
) -> None:
    with pytest.raises(ValidationError, match="BADBUZZ_INGEST_KEY must be a secret"):
        ApiSettings(
            _env_file=None,
            environment="production",
            api_key=SecretStr(API_KEY),
            ingest_key=SecretStr(ingest_key),
            verify_key=bundle_keys.verify,
        )
    production = ApiSettings(
        _env_file=None,
        environment="production",
        api_key=SecretStr(API_KEY),
        ingest_key=SecretStr(INGEST_KEY),
        verify_key=bundle_keys.verify,
    )
    assert [key.get_secret_value() for key in production.predict_keys] == [INGEST_KEY, API_KEY]


def test_an_empty_ingest_key_is_unset() -> None:
    # compose passes BADBUZZ_INGEST_KEY on empty when .env leaves it out
    settings = ApiSettings(_env_file=None, api_key=SecretStr(API_KEY), ingest_key="")  # type: ignore[arg-type]
    assert settings.ingest_key is None
    assert [key.get_secret_value() for key in settings.predict_keys] == [API_KEY]


# --- /buzz ---------------------------------------------------------------------------------


def test_buzz_shows_at_most_limit_brands_those_with_most_negatives(
    tiny_bundle: Path, tmp_path: Path
) -> None:
    # no brands configured: every brand sent is its own
    with serving(tmp_path / "home", tiny_bundle) as client:
        tweets = [
            {"text": f"worst airline, lost my bag, hate it {n}", "brand": f"Brand{b}"}
            for b in range(6)
            for n in range(b + 1)
        ]
        assert client.post("/predict/batch", json={"tweets": tweets}).status_code == 200
        client.app.state.store.flush()  # type: ignore[attr-defined]

        every = client.get("/buzz", params={"limit": 500}).json()
        capped = client.get("/buzz", params={"limit": 2}).json()

        assert every["brands_total"] == capped["brands_total"] == len(every["brands"]) == 6
        negatives = {b["brand"]: sum(w["negatives"] for w in b["windows"]) for b in every["brands"]}
        most = sorted(negatives, key=lambda brand: (-negatives[brand], brand))[:2]
        assert capped["limit"] == 2
        assert [b["brand"] for b in capped["brands"]] == sorted(most)
        assert client.get("/buzz").json()["limit"] == 50
        assert client.get("/buzz", params={"limit": 501}).status_code == 422


# --- the bounds ----------------------------------------------------------------------------


@contextmanager
def database_locked(database: Path) -> Iterator[None]:
    """Another writer holds SQLite's write lock: the API's writes wait, as on a stuck database."""
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def stored_count(store: PredictionStore) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(predictions)).scalar_one())


def test_while_the_database_does_not_answer_predict_is_503_and_nothing_is_answered_unstored(
    tiny_bundle: Path, tmp_path: Path
) -> None:
    from sqlalchemy import create_engine

    home = tmp_path / "home"
    with serving(home, tiny_bundle) as client:
        store: PredictionStore = client.app.state.store  # type: ignore[attr-defined]
        reachable, before = store.engine, stored_count(store)
        store.engine = create_engine(f"sqlite:///{tmp_path / 'gone' / 'x.db'}")  # no folder

        refused = [client.post("/predict", json=TWEET) for _ in range(3)]
        batch = client.post("/predict/batch", json={"texts": ["one more"] * 10})

        for answer in [*refused, batch]:
            assert answer.status_code == 503
            assert answer.headers["retry-after"] == "5"
            assert "the database does not answer" in answer.json()["detail"]
        store.engine = reachable
        deadline = time.monotonic() + 10  # the writer asks the database again every second
        while (answer := client.post("/predict", json=TWEET)).status_code == 503:
            assert time.monotonic() < deadline, answer.text
            time.sleep(0.2)
        # answered means stored: no flush, no wait
        assert stored_count(store) == before + 1
        assert store.get_prediction(answer.json()["prediction_id"]) is not None


def test_requests_past_the_concurrency_limit_are_503_before_their_body_is_read() -> None:
    release = asyncio.Event()
    bodies_read = 0

    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal bodies_read
        await receive()
        bodies_read += 1
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    limited = ConcurrencyLimit(slow, limit=2, paths=["/predict"])

    async def flood() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=limited)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            held = [asyncio.create_task(client.post("/predict", json=TWEET)) for _ in range(2)]
            while bodies_read < 2:
                await asyncio.sleep(0.01)
            refused = await client.post("/predict", json=TWEET)
            other_path = asyncio.create_task(client.post("/feedback", json={}))
            await asyncio.sleep(0.05)
            release.set()
            return [refused, *await asyncio.gather(*held, other_path)]

    refused, *served = asyncio.run(flood())

    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "1"
    assert "BADBUZZ_MAX_CONCURRENT_PREDICTIONS" in refused.json()["detail"]
    assert [answer.status_code for answer in served] == [200, 200, 200]
    assert bodies_read == 3  # the two held and /feedback (not limited); not the refused one
    assert limited.in_flight == 0


def test_the_write_queue_is_bounded_and_what_waits_is_committed_before_it_is_released(
    tmp_path: Path,
) -> None:
    from api.store import Prediction
    from ops.database import new_id, utcnow

    database = tmp_path / "store.db"
    store = PredictionStore(f"sqlite:///{database}", max_unwritten=30)
    now = utcnow()

    def rows(count: int) -> list[Prediction]:
        return [
            Prediction(new_id(), f"tweet {n}", "negative", 0.1, "m", "1", now, now, "all")
            for n in range(count)
        ]

    try:
        with database_locked(database):  # the writer takes the first rows and waits for it
            first = store.queue_predictions(rows(20))
            time.sleep(0.3)
            assert not first.done()  # not released: not committed
            with pytest.raises(Overloaded) as refused:
                store.queue_predictions(rows(11))
            assert refused.value.retry_after_s == 5
            assert "BADBUZZ_MAX_UNWRITTEN_PREDICTIONS=30" in refused.value.message
            second = store.queue_predictions(rows(10))  # exactly what fits
        first.result(timeout=30)
        second.result(timeout=30)
        assert stored_count(store) == 30 and store.unwritten == 0
    finally:
        store.close()
