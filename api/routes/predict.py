"""/predict and /predict/batch: score tweets, answer once their predictions are recorded."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import BatcherDep, IngestKey, ModelDep, RecorderDep
from api.refusals import BAD_BODY, INGEST_KEY_REFUSED, PREDICT_UNAVAILABLE
from api.schemas import BatchRequest, BatchResponse, PredictRequest, PredictResponse

router = APIRouter()
PREDICT_PATHS = ("/predict", "/predict/batch")  # the concurrency limit's


def json_response(body: PredictResponse | BatchResponse) -> Response:
    # already validated: skip FastAPI's second validation and encoding pass
    return Response(body.model_dump_json(), media_type="application/json")


@router.post(
    "/predict",
    response_model=PredictResponse,
    responses={**BAD_BODY, **INGEST_KEY_REFUSED, **PREDICT_UNAVAILABLE},
    dependencies=[IngestKey],
    tags=["predict"],
)
async def predict(
    body: PredictRequest, model: ModelDep, batcher: BatcherDep, recorder: RecorderDep
) -> Response:
    """Score one tweet (requests that arrive together are scored as one batch)."""
    recorder.check_room(1)
    scored = await batcher.predict(model, body.text)
    (answer,) = await recorder.record(model, [body], [scored])
    return json_response(answer)


@router.post(
    "/predict/batch",
    response_model=BatchResponse,
    responses={**BAD_BODY, **INGEST_KEY_REFUSED, **PREDICT_UNAVAILABLE},
    dependencies=[IngestKey],
    tags=["predict"],
)
def predict_batch(body: BatchRequest, model: ModelDep, recorder: RecorderDep) -> Response:
    """Score up to 1,000 tweets as one batch (`texts`, or `tweets` with their time and
    brand); results come back in the same order."""
    tweets = body.items()
    recorder.check_room(len(tweets))
    scored = model.classify([tweet.text for tweet in tweets]).each()
    answers = recorder.record_blocking(model, tweets, scored)
    return json_response(BatchResponse(predictions=answers))
