"""Request and response bodies, with the limits the API enforces and examples for OpenAPI."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)

from badbuzz.settings import BRAND, MAX_BATCH_TWEETS

MAX_TEXT_CHARS = 1_000  # a tweet is 280 characters; leave room for quoted threads
MAX_BATCH = MAX_BATCH_TWEETS
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
Label = Literal["negative", "neutral", "positive"]  # neutral: inside the bundle's neutral band
# badbuzz.settings.BRAND in JSON Schema's dialect; `$` as Python reads it (the validators here
# and jsonschema's alike), so a brand may end in one newline, which is dropped.
BRAND_PATTERN = rf"^{BRAND.pattern}$"
EARLIEST = datetime.min.replace(tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)


def _brand(brand: str) -> str:
    if re.search(BRAND_PATTERN, brand) is None:
        raise ValueError(
            "brand must be 1 to 64 letters, digits, spaces or _ . & ' + - (not starting or "
            "ending with a space), e.g. United; leave it out to have it found from the "
            "@handles in the text"
        )
    return brand.rstrip("\n")


def brand_or_none(brand: str | None) -> str | None:
    return None if brand is None else _brand(brand)


def _event_time(value: object, handler: ValidatorFunctionWrapHandler) -> datetime:
    # lax parsing (a wrap validator gets the JSON string as a Python one), strings only
    error = "created_at is not an ISO 8601 time: send e.g. 2015-02-22T17:03:11-08:00"
    if not isinstance(value, str | datetime):
        raise ValueError(error)
    try:
        moment: datetime = handler(value)
    except ValidationError as invalid:
        raise ValueError(error) from invalid
    if moment.tzinfo is None:
        raise ValueError(
            "created_at has no UTC offset, so its moment is unknown: add Z or one, e.g. "
            "2015-02-22T17:03:11-08:00 (or leave created_at out for now)"
        )
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # within a day of year 1 or 9999: the edge of what is stored
        return EARLIEST if moment.year == 1 else LATEST


Brand = Annotated[
    str,
    Field(
        min_length=1,
        max_length=65,
        description="The brand the tweet is about, e.g. United; unset: the first configured "
        "@handle the text mentions (BADBUZZ_BRANDS), else `all`.",
        json_schema_extra={"pattern": BRAND_PATTERN},
    ),
    AfterValidator(_brand),
]
EventTime = Annotated[
    datetime,
    WrapValidator(_event_time),
    Field(
        strict=False,
        description="When the tweet was posted, ISO 8601 with Z or a UTC offset; unset: now. "
        "A time without an offset is refused (its moment is unknown).",
    ),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class PredictRequest(Strict):
    text: Tweet
    created_at: EventTime | None = None
    brand: Brand | None = None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"text": "@united lost my bag again, worst airline"},
                {
                    "text": "lost my bag again, worst airline",
                    "created_at": "2015-02-22T17:03:11-08:00",
                    "brand": "United",
                },
            ]
        }
    )


class BatchRequest(Strict):
    """Either `texts` (the tweets' words only) or `tweets` (each with its time and brand)."""

    texts: list[Tweet] | None = Field(default=None, min_length=1, max_length=MAX_BATCH)
    tweets: list[PredictRequest] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_BATCH,
        description="Tweets with their created_at and brand, as /predict takes one.",
    )

    model_config = ConfigDict(
        json_schema_extra={
            # the validator below, in the contract: exactly one of the two (a null is unsent)
            "oneOf": [
                {"required": ["texts"], "properties": {"texts": {"type": "array"}}},
                {"required": ["tweets"], "properties": {"tweets": {"type": "array"}}},
            ],
            "examples": [
                {"texts": ["thanks for the upgrade!", "3 hours on the tarmac..."]},
                {
                    "tweets": [
                        {"text": "@united thanks for the upgrade!"},
                        {"text": "3 hours on the tarmac...", "created_at": "2015-02-22T17:03:11Z"},
                    ]
                },
            ],
        }
    )

    @model_validator(mode="after")
    def _texts_or_tweets(self) -> BatchRequest:
        if (self.texts is None) == (self.tweets is None):
            raise ValueError(
                'send either "texts": ["...", ...] or "tweets": [{"text": "...", '
                '"created_at": "...", "brand": "..."}, ...], not both'
            )
        return self

    def items(self) -> list[PredictRequest]:
        if self.tweets is not None:
            return self.tweets
        # already validated: no second pass over up to 1,000 texts
        return [PredictRequest.model_construct(text=text) for text in self.texts or []]


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
    created_at: datetime = Field(description="The tweet's time as stored, in UTC.")
    brand: str = Field(description="The brand it counts for (`all`: none named).")


class BatchResponse(BaseModel):
    predictions: list[PredictResponse]


class FeedbackRequest(Strict):
    """Either the id of a prediction this API made, or the text and the label it got."""

    correct: bool = Field(description="Was the predicted label right?")
    prediction_id: str | None = Field(default=None, max_length=36)
    text: Tweet | None = None
    predicted_label: Label | None = None
    right_label: Label | None = Field(
        default=None,
        description="When the prediction was wrong, the label the tweet should have had. "
        "Retraining learns from a wrong negative or positive prediction without it (the right "
        "label is the other one, unless it says neutral), but not from a wrong neutral one. "
        "Neutral ones (and neutral predictions judged right) teach the neutral head.",
    )

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
            # right_label only on a wrong verdict, and never the predicted label itself
            "allOf": [
                {
                    "if": {"properties": {"correct": {"const": True}}},
                    "then": {"properties": {"right_label": {"type": "null"}}},
                },
                {
                    "not": {
                        "anyOf": [
                            {
                                "required": ["predicted_label", "right_label"],
                                "properties": {
                                    "predicted_label": {"const": label},
                                    "right_label": {"const": label},
                                },
                            }
                            for label in get_args(Label)
                        ]
                    }
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
        if self.correct and self.right_label is not None:
            raise ValueError("right_label is for wrong predictions: drop it, or send correct false")
        if self.right_label is not None and self.right_label == self.predicted_label:
            raise ValueError(
                "right_label is the predicted label: a wrong prediction's right label is another"
            )
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
    state: Literal["pending", "sent", "dead", "held", "summarised"] = Field(
        description="pending: tried again later; sent: every recipient has it; dead: given up "
        "(refused for good, 5xx, or not sent within a day): never tried again; held: over "
        "BADBUZZ_ALERT_MAILS_PER_HOUR, never sent alone, the next summary mail lists it; "
        "summarised: listed in a summary mail, whose delivery the other fields describe."
    )
    delivered_to: list[str] = Field(description="The recipients that have it.")
    refused_by: list[str] = Field(description="The recipients that refused it for good.")


# the rule names of ops.rules (tests/api/test_contract.py checks they agree)
AlertRule = Literal["error_window", "latency", "drift", "buzz"]


class AlertOut(BaseModel):
    id: str
    rule: AlertRule
    fired_at: datetime
    window_start: datetime
    window_end: datetime
    observed: float = Field(
        description="Wrong predictions in the window, p95 in ms, the PSI or z of a drift, or "
        "a buzz's negative tweets."
    )
    threshold: float
    model_version: str | None
    summary: str
    report_text: str
    report_path: str | None = Field(description="The report's folder on the API's machine.")
    brand: str | None = Field(description="A buzz's brand (null for the other rules).")
    baseline: float | None = Field(
        description="A buzz's expected negatives in its window (null for the other rules)."
    )
    flagged: list[FlaggedTweetOut]
    mail: MailStatus


class AlertsResponse(BaseModel):
    alerts: list[AlertOut]


class BuzzWindowOut(BaseModel):
    start: datetime
    end: datetime
    negatives: int
    total: int = Field(description="Every tweet of the brand in the window.")
    negative_share: float | None = Field(description="negatives / total; null without tweets.")
    expected: float | None = Field(
        description="Negatives the watch expects of this window at its time of day; null while "
        "the brand's baseline is learning."
    )


class BuzzBaselineOut(BaseModel):
    """What the brand's current window should hold, from the same time of its past days."""

    negatives: float = Field(description="Negatives expected in the current window.")
    threshold: int = Field(description="Negatives the current window needs to alert on volume.")
    negative_share: float = Field(description="Share of negatives in the comparable windows.")
    days: int = Field(description="Past days it was learned from.")
    dispersion: float = Field(description="Variance over mean of the brand's counts (1: Poisson).")


class BrandBuzzOut(BaseModel):
    brand: str = Field(description="`all`: the tweets that named no configured brand.")
    baseline: BuzzBaselineOut | Literal["learning"] = Field(
        description="`learning` until the brand has BADBUZZ_BUZZ_MIN_HISTORY_DAYS days of "
        "BADBUZZ_BUZZ_MIN_DAILY_TWEETS tweets: no buzz verdict before (a new source or a gap "
        "in collection is not a buzz)."
    )
    learning: str | None = Field(description="Why the brand gets no verdict yet; null after.")
    windows: list[BuzzWindowOut] = Field(description="Oldest first, empty windows included.")


class BuzzAlertOut(BaseModel):
    id: str
    brand: str
    fired_at: datetime
    window_start: datetime
    window_end: datetime
    negatives: int
    baseline: float | None = Field(description="Negatives expected in the window.")
    threshold: int = Field(description="Negatives the window needed to alert on volume.")
    summary: str
    model_version: str | None
    report_path: str | None = Field(description="The report's folder on the API's machine.")
    mail: MailStatus


class BuzzResponse(BaseModel):
    window_seconds: int = Field(description="BADBUZZ_BUZZ_WINDOW_SECONDS.")
    since: datetime = Field(description="Start of the first window shown (by tweet time).")
    until: datetime = Field(description="End of the last (open) window.")
    limit: int = Field(
        description="Most brands shown (the `limit` asked): those with a buzz alert, then "
        "the most negatives."
    )
    brands_total: int = Field(
        description="Brands with tweets or a baseline in these windows; more than shown when "
        "over `limit`."
    )
    brands: list[BrandBuzzOut] = Field(description="At most `limit`, by name.")
    alerts: list[BuzzAlertOut] = Field(description="Buzz alerts of those windows, newest first.")
