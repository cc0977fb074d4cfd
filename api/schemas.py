"""Request and response bodies, with the limits the API enforces and examples for OpenAPI."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

MAX_TEXT_CHARS = 1_000  # a tweet is 280 characters; leave room for quoted threads
MAX_BATCH = 1_000


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("text is empty or only whitespace: send the tweet's words")
    if "\x00" in text:  # no tweet holds one, and PostgreSQL text columns refuse it
        raise ValueError("text contains a NUL character (\\u0000): remove it")
    return text


Tweet = Annotated[
    str,
    Field(min_length=1, max_length=MAX_TEXT_CHARS, description="Raw tweet text."),
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
            "examples": [
                {"prediction_id": "0b7f9e0e-3c1d-4c7e-9d5e-0d6f4f0b2a11", "correct": False},
                {"text": "love the new seats", "predicted_label": "negative", "correct": False},
            ]
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
