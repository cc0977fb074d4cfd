"""What a prediction leaves behind before it is answered: its id, times and brand, its row
(committed by the store's group commit, when predictions are stored), its count in the
metrics and its JSON line in the `badbuzz.predictions` log."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence

from api.prometheus import ApiMetrics
from api.responses import prediction_response
from api.schemas import PredictRequest, PredictResponse
from api.service import ServedModel
from api.store import COMMIT_WAIT_S, Prediction, PredictionStore
from badbuzz.bundle.model import Scored
from ops.brands import BrandMatcher
from ops.database import new_id, utcnow

prediction_log = logging.getLogger("badbuzz.predictions")


class PredictionRecorder:
    """Records the predictions of one request; `store` None: predictions are not stored
    (BADBUZZ_LOG_PREDICTIONS off), only counted and logged."""

    def __init__(
        self, store: PredictionStore | None, metrics: ApiMetrics, brands: BrandMatcher
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.brands = brands

    def check_room(self, count: int) -> None:
        """Refuse (`Overloaded`) before scoring what the store could not queue."""
        if self.store is not None:
            self.store.check_room(count)

    async def record(
        self, model: ServedModel, tweets: Sequence[PredictRequest], scored: Sequence[Scored]
    ) -> list[PredictResponse]:
        """Make, store, count and log the predictions of `tweets`; their answers. The event
        loop is not blocked while the writer thread commits them."""
        made = self._made(model, tweets, scored)
        if self.store is not None:  # committed before it is answered or counted
            stored = asyncio.wrap_future(self.store.queue_predictions(made))
            try:
                await asyncio.wait_for(stored, COMMIT_WAIT_S)
            except TimeoutError:
                raise self.store.too_slow() from None
        return self._answered(model, made)

    def record_blocking(
        self, model: ServedModel, tweets: Sequence[PredictRequest], scored: Sequence[Scored]
    ) -> list[PredictResponse]:
        """`record` from a worker thread, which waits for the commit."""
        made = self._made(model, tweets, scored)
        if self.store is not None:  # committed before it is answered or counted
            self.store.store_predictions(made)
        return self._answered(model, made)

    def _made(
        self, model: ServedModel, tweets: Sequence[PredictRequest], scored: Sequence[Scored]
    ) -> list[Prediction]:
        ref = model.ref
        now = utcnow()
        return [
            Prediction(
                new_id(),
                tweet.text,
                result.label,
                result.p_positive,
                ref.name,
                ref.version,
                now,
                tweet.created_at or now,
                self.brands.brand_of(tweet.text, tweet.brand),
            )
            for tweet, result in zip(tweets, scored, strict=True)
        ]

    def _answered(self, model: ServedModel, made: list[Prediction]) -> list[PredictResponse]:
        """Count, log and answer predictions already stored (or not to be stored)."""
        ref = model.ref
        log_each = prediction_log.isEnabledFor(logging.INFO)
        answers = []
        for prediction in made:
            self.metrics.predictions.labels(prediction.label).inc()
            if log_each:
                prediction_log.info(log_line(prediction, ref.version))
            answers.append(prediction_response(prediction, ref))
        return answers


def log_line(prediction: Prediction, model_version: str) -> str:
    """One prediction as the JSON line log shippers and later retraining read."""
    tweeted_at = prediction.tweeted_at or prediction.created_at
    return json.dumps(
        {
            "prediction_id": prediction.id,
            "text": prediction.text,
            "label": prediction.label,
            "probability_positive": prediction.probability_positive,
            "model_version": model_version,
            "time": prediction.created_at.isoformat(),
            "tweeted_at": tweeted_at.isoformat(),
            "brand": prediction.brand,
        },
        ensure_ascii=False,
    )
