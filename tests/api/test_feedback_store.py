"""Feedback is durable: stored before 201, still there after the API process restarts, on
SQLite (the default, under BADBUZZ_HOME) and on PostgreSQL (a fresh database)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.integration.support import postgres_or_skip

from .support import API_KEY, KEY_HEADER, Api, start_api

TWEETS = [
    "@united lost my bag again, worst airline ever",
    "thank you @JetBlue for the upgrade, amazing crew!",
    "3 hours on the tarmac and no water 😡",
]


@dataclass(frozen=True)
class Database:
    backend: str
    url: str | None  # None: the API's default SQLite file under its home

    def query_url(self, home: Path) -> str:
        return self.url or f"sqlite:///{home / 'badbuzz.db'}"


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)],
)
def database(request: pytest.FixtureRequest) -> Iterator[Database]:
    if request.param == "sqlite":
        yield Database("sqlite", None)
        return
    with postgres_or_skip("badbuzz_api") as url:
        yield Database("postgresql", url)


@dataclass
class Session:
    """The first API process's answers, then what the database holds after it stopped."""

    database: Database
    home: Path
    root: Path
    local_bundle: Path
    predictions: list[dict[str, Any]] = field(default_factory=list)
    by_id: dict[str, Any] = field(default_factory=dict)
    unknown: Any = None
    by_text: dict[str, Any] = field(default_factory=dict)

    def settings(self) -> dict[str, str]:
        settings = {"BADBUZZ_MODEL_BUNDLE": str(self.local_bundle), "BADBUZZ_API_KEY": API_KEY}
        if self.database.url:
            settings["BADBUZZ_DATABASE_URL"] = self.database.url
        return settings

    def start(self, name: str) -> Api:
        return start_api(self.home, self.root / name, self.settings(), name=name)

    def rows(self, table: str) -> list[dict[str, Any]]:
        engine = create_engine(self.database.query_url(self.home))
        try:
            with engine.connect() as connection:
                result = connection.execute(text(f"SELECT * FROM {table}"))
                return [dict(row._mapping) for row in result]
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def first_run(
    database: Database, local_bundle: Path, tmp_path_factory: pytest.TempPathFactory
) -> Session:
    root = tmp_path_factory.mktemp(f"feedback-{database.backend}")
    session = Session(database, root / "home", root, local_bundle)
    api = session.start("first")
    try:
        client = api.client()
        for tweet in TWEETS:
            response = client.post("/predict", json={"text": tweet})
            assert response.status_code == 200, response.text
            session.predictions.append(response.json())
        first = session.predictions[0]
        response = client.post(
            "/feedback",
            json={"prediction_id": first["prediction_id"], "correct": False},
            headers=KEY_HEADER,
        )
        session.by_id = {"status": response.status_code, "body": response.json()}
        session.unknown = client.post(
            "/feedback",
            json={"prediction_id": "00000000-0000-0000-0000-000000000000", "correct": True},
            headers=KEY_HEADER,
        )
        response = client.post(
            "/feedback",
            json={"text": "café crème ☕ great", "predicted_label": "negative", "correct": False},
            headers=KEY_HEADER,
        )
        session.by_text = {"status": response.status_code, "body": response.json()}
    finally:
        api.stop()  # SIGTERM: a graceful shutdown, as a container stop would do
    return session


def test_feedback_by_prediction_id_is_201(first_run: Session) -> None:
    assert first_run.by_id["status"] == 201, first_run.by_id
    assert first_run.by_id["body"]["prediction_id"] == first_run.predictions[0]["prediction_id"]


def test_feedback_for_an_unknown_prediction_is_404(first_run: Session) -> None:
    assert first_run.unknown.status_code == 404, first_run.unknown.text
    assert "no prediction" in first_run.unknown.json()["detail"]


def test_feedback_by_text_and_label_is_201(first_run: Session) -> None:
    assert first_run.by_text["status"] == 201, first_run.by_text
    assert first_run.by_text["body"]["prediction_id"] is None


def test_feedback_rows_outlive_the_process(first_run: Session) -> None:
    rows = {row["id"]: row for row in first_run.rows("feedback")}
    assert set(rows) == {
        first_run.by_id["body"]["feedback_id"],
        first_run.by_text["body"]["feedback_id"],
    }
    by_id = rows[first_run.by_id["body"]["feedback_id"]]
    first = first_run.predictions[0]
    assert by_id["prediction_id"] == first["prediction_id"]
    assert by_id["text"] == TWEETS[0]
    assert by_id["predicted_label"] == first["label"]
    assert by_id["correct"] in (False, 0)
    assert by_id["model_version"] == "local"
    by_text = rows[first_run.by_text["body"]["feedback_id"]]
    assert by_text["text"] == "café crème ☕ great"
    assert by_text["predicted_label"] == "negative"
    assert by_text["prediction_id"] is None


def test_predictions_are_flushed_on_shutdown(first_run: Session) -> None:
    stored = {row["id"]: row for row in first_run.rows("predictions")}
    for answer, tweet in zip(first_run.predictions, TWEETS, strict=True):
        row = stored[answer["prediction_id"]]
        assert row["text"] == tweet
        assert row["label"] == answer["label"]
        assert row["probability_positive"] == pytest.approx(
            answer["probability_positive"], abs=1e-12
        )


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: the connection broke
    text: str


def post(client: httpx.Client, path: str, body: dict[str, Any]) -> Answer:
    try:
        response = client.post(path, json=body, headers=KEY_HEADER)
    except httpx.TransportError as error:  # uvicorn drops the connection after a 500
        return Answer(None, repr(error))
    return Answer(response.status_code, response.text)


@dataclass
class SecondRun:
    old_feedback: Any
    rows_after: list[dict[str, Any]]
    good: dict[str, Any]
    nul_predict: Answer
    feedback_on_good: Answer
    nul_feedback: Answer


@pytest.fixture(scope="module")
def second_run(first_run: Session) -> SecondRun:
    """A new process on the same home and database: feedback on a prediction made by the first
    one; then a tweet holding a NUL character scored beside a normal one."""
    api = first_run.start("second")
    try:
        client = api.client()
        old_feedback = client.post(
            "/feedback",
            json={"prediction_id": first_run.predictions[1]["prediction_id"], "correct": True},
            headers=KEY_HEADER,
        )
        rows_after = first_run.rows("feedback")
        # one request, so both are queued for the same store flush
        batch = client.post(
            "/predict/batch", json={"texts": ["a normal tweet, on time", "bag\u0000lost"]}
        )
        nul_predict = Answer(batch.status_code, batch.text)
        # a refused batch (422) must leave the next normal tweet unaffected
        good = (
            batch.json()["predictions"][0]
            if batch.status_code == 200
            else client.post("/predict", json={"text": "a normal tweet, on time"}).json()
        )
        feedback_on_good = post(
            api.client(), "/feedback", {"prediction_id": good.get("prediction_id"), "correct": True}
        )
        nul_feedback = post(
            api.client(),
            "/feedback",
            {"text": "bag\u0000lost", "predicted_label": "negative", "correct": True},
        )
    finally:
        api.stop()
    return SecondRun(old_feedback, rows_after, good, nul_predict, feedback_on_good, nul_feedback)


def test_after_a_restart_feedback_on_an_old_prediction_still_works(
    second_run: SecondRun, first_run: Session
) -> None:
    assert second_run.old_feedback.status_code == 201, second_run.old_feedback.text
    rows = second_run.rows_after
    assert len(rows) == 3
    assert {r["prediction_id"] for r in rows} >= {
        first_run.predictions[0]["prediction_id"],
        first_run.predictions[1]["prediction_id"],
    }


def test_a_nul_character_in_a_tweet_costs_no_other_prediction(
    second_run: SecondRun, database: Database
) -> None:
    assert second_run.nul_predict.status in (200, 422), second_run.nul_predict
    assert second_run.feedback_on_good.status == 201, second_run.feedback_on_good


def test_feedback_with_a_nul_character_is_not_a_server_error(
    second_run: SecondRun, database: Database
) -> None:
    assert second_run.nul_feedback.status in (201, 422), second_run.nul_feedback
