"""Request and response bodies, with the limits the API enforces and examples for OpenAPI."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

MAX_TEXT_CHARS = 1_000  # a tweet is 280 characters; leave room for quoted threads
MAX_BATCH = 1_000
# The characters str.strip() removes, spelled out: JSON Schema's regex dialect (ECMA-262) has a
# \s of its own, so a pattern written with \s would not say what _not_blank refuses.
WHITESPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# _not_blank in the contract: no NUL, and at least one character that is not whitespace.
TWEET_PATTERN = rf"^[^\x00]*[^\x00{WHITESPACE}][^\x00]*$"


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("text is empty or only whitespace: send the tweet's words")
    if "\x00" in text:  # no tweet holds one, and PostgreSQL text columns refuse it
        raise ValueError("text contains a NUL character (\\u0000): remove it")
    return text


Tweet = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_TEXT_CHARS,
        description="Raw tweet text: not only whitespace, no NUL character.",
        # in the schema only: _not_blank enforces it, with messages that say what to do
        json_schema_extra={"pattern": TWEET_PATTERN},
    ),
    AfterValidator(_not_blank),
]
Label = Literal["negative", "positive"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class PredictRequest(Strict):
    text: Tweet

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"text": "@united lost my bag again, worst airline"}]}
    )


class BatchRequest(Strict):
    texts: list[Tweet] = Field(min_length=1, max_length=MAX_BATCH)

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"texts": ["thanks for the upgrade!", "3 hours on the tarmac..."]}]
        }
    )


class ModelRef(BaseModel):
    name: str
    version: str
    embedding_type: str | None
    model_family: str | None


class PredictResponse(BaseModel):
    label: Label
    probability_positive: float = Field(ge=0, le=1)
    model: ModelRef
    prediction_id: str


class BatchResponse(BaseModel):
    predictions: list[PredictResponse]


class FeedbackRequest(Strict):
    """Either the id of a prediction this API made, or the text and the label it got."""

    correct: bool = Field(description="Was the predicted label right?")
    prediction_id: str | None = Field(default=None, max_length=36)
    text: Tweet | None = None
    predicted_label: Label | None = None

    model_config = ConfigDict(
        json_schema_extra={
            # the validator below, in the contract: exactly one of the two ways (a null is unsent)
            "oneOf": [
                {
                    "required": ["prediction_id"],
                    "properties": {"prediction_id": {"type": "string"}},
                },
                {
                    "required": ["text", "predicted_label"],
                    "properties": {
                        "text": {"type": "string"},
                        "predicted_label": {"type": "string"},
                    },
                },
            ],
            "examples": [
                {"prediction_id": "0b7f9e0e-3c1d-4c7e-9d5e-0d6f4f0b2a11", "correct": False},
                {"text": "love the new seats", "predicted_label": "negative", "correct": False},
            ],
        }
    )

    @model_validator(mode="after")
    def _one_way_to_name_the_prediction(self) -> FeedbackRequest:
        by_id = self.prediction_id is not None
        by_text = self.text is not None and self.predicted_label is not None
        if by_id == by_text or (
            not by_id and (self.text is None) != (self.predicted_label is None)
        ):
            raise ValueError("send either prediction_id, or both text and predicted_label")
        return self


class ErrorMessage(BaseModel):
    """The body of every refusal but 422: one sentence that says what to do."""

    detail: str


class FeedbackResponse(BaseModel):
    feedback_id: str
    prediction_id: str | None


class Readiness(BaseModel):
    ready: bool
    reason: str | None = None
    model: ModelRef | None = None
    stale: bool = False
    stale_reason: str | None = None


class ReloadResponse(BaseModel):
    changed: bool
    version: str | None
    message: str


class FlaggedTweetOut(BaseModel):
    text: str
    predicted_label: str
    probability_positive: float | None
    flagged_at: datetime
    model_version: str | None


class MailStatus(BaseModel):
    """The alert's mail: sent when the server accepted it; else tries so far and why not."""

    sent_at: datetime | None
    attempts: int
    last_error: str | None


class AlertOut(BaseModel):
    id: str
    rule: Literal["error_window", "latency"]
    fired_at: datetime
    window_start: datetime
    window_end: datetime
    observed: float = Field(description="Wrong predictions in the window, or p95 in ms.")
    threshold: float
    model_version: str | None
    summary: str
    report_text: str
    report_path: str | None = Field(description="The report's folder on the API's machine.")
    flagged: list[FlaggedTweetOut]
    mail: MailStatus


class AlertsResponse(BaseModel):
    alerts: list[AlertOut]
