"""The prediction recorder, called directly: what a prediction leaves behind before it is
answered (its row, its count, its log line), with a store and without one."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from api.prometheus import ApiMetrics
from api.recording import PredictionRecorder
from api.schemas import ModelRef, PredictRequest
from api.store import PredictionStore
from badbuzz.bundle.model import Scored
from ops.brands import BrandMatcher
from ops.database import as_utc

TWEETED = datetime(2015, 2, 22, 17, 3, 11, tzinfo=UTC)


class Served:
    """The part of a served model the recorder reads: its reference."""

    ref = ModelRef(name="tweet-sentiment", version="3", embedding_type=None, model_family=None)


def recorded_labels(metrics: ApiMetrics, label: str) -> float | None:
    return metrics.registry.get_sample_value("badbuzz_predictions_total", {"label": label})


def test_a_prediction_is_committed_counted_and_logged_before_its_answer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = PredictionStore(f"sqlite:///{tmp_path / 'badbuzz.db'}")
    metrics = ApiMetrics(lambda: None)
    recorder = PredictionRecorder(store, metrics, BrandMatcher({"@united": "United"}))
    tweets = [
        PredictRequest(text="@united lost my bag", created_at=TWEETED),
        PredictRequest(text="thanks for the upgrade"),
    ]
    try:
        with caplog.at_level(logging.INFO, logger="badbuzz.predictions"):
            scored = [Scored(0.1, "negative"), Scored(0.9, "positive")]
            answers = asyncio.run(recorder.record(Served(), tweets, scored))  # type: ignore[arg-type]
        stored = [store.get_prediction(answer.prediction_id) for answer in answers]
    finally:
        store.close()

    assert [(a.label, a.brand, a.model.version) for a in answers] == [
        ("negative", "United", "3"),
        ("positive", "all", "3"),
    ]
    assert answers[0].created_at == TWEETED
    # SQLite gives the times back without their zone
    assert [(p.label, p.brand, as_utc(p.tweeted_at)) for p in stored if p and p.tweeted_at] == [
        ("negative", "United", TWEETED),
        ("positive", "all", answers[1].created_at),
    ]
    assert recorded_labels(metrics, "negative") == recorded_labels(metrics, "positive") == 1
    lines = [json.loads(record.getMessage()) for record in caplog.records]
    assert [(line["prediction_id"], line["brand"]) for line in lines] == [
        (answers[0].prediction_id, "United"),
        (answers[1].prediction_id, "all"),
    ]
    assert lines[0]["tweeted_at"] == TWEETED.isoformat()


def test_without_a_store_a_prediction_is_counted_and_answered_only() -> None:
    metrics = ApiMetrics(lambda: None)
    recorder = PredictionRecorder(None, metrics, BrandMatcher({}))
    recorder.check_room(10**9)  # nothing queued: nothing to refuse
    tweets, scored = [PredictRequest(text="a tweet")], [Scored(0.2, "negative")]
    (answer,) = recorder.record_blocking(Served(), tweets, scored)  # type: ignore[arg-type]
    assert (answer.label, answer.brand) == ("negative", "all")
    assert recorded_labels(metrics, "negative") == 1
