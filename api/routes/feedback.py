"""/feedback: whether a prediction was right, stored before the answer; a wrong verdict
nudges the alert rules."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from api.deps import ApiKey, JobsDep, MetricsDep, StoreDep
from api.refusals import BAD_BODY, KEY_REFUSED, refusal
from api.schemas import FeedbackRequest, FeedbackResponse

router = APIRouter()


@router.post(
    "/feedback",
    status_code=status.HTTP_201_CREATED,
    response_model=FeedbackResponse,
    responses={
        **BAD_BODY,
        **KEY_REFUSED,
        404: refusal("No prediction with this prediction_id."),
    },
    dependencies=[ApiKey],
    tags=["feedback"],
)
def add_feedback(
    body: FeedbackRequest, store: StoreDep, metrics: MetricsDep, jobs: JobsDep
) -> FeedbackResponse:
    """Record whether a prediction was right; stored before this answers."""
    text: str | None = body.text
    label: str | None = body.predicted_label
    version: str | None = None
    if body.prediction_id is not None:
        prediction = store.get_prediction(body.prediction_id)
        if prediction is None:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND,
                f"no prediction {body.prediction_id!r}: send the id /predict returned, "
                "or text and predicted_label",
            )
        text, label, version = prediction.text, prediction.label, prediction.model_version
    assert text is not None and label is not None  # the schema's validator guarantees it
    if body.right_label == label:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"right_label {label!r} is the predicted label: a wrong prediction's right label "
            "is another one",
        )
    feedback_id = store.add_feedback(
        text, label, body.correct, body.prediction_id, version, body.right_label
    )
    metrics.feedback.labels(str(body.correct).lower()).inc()
    if not body.correct:  # it may complete an error window: evaluate the rules now
        jobs.nudge()
    return FeedbackResponse(feedback_id=feedback_id, prediction_id=body.prediction_id)
