"""What a buzz's report shows: the most confident negative tweets of its window, the words
that grew most against the day before, and the brand's last 48 hours with the expected band."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from ops.buzz import Buzz
from ops.buzz_counts import window_counts
from ops.database import as_utc, predictions
from ops.report import BrandHour, BuzzContext, BuzzTweet
from ops.trending import grown_terms

TOP_TWEETS = 5
CHART_HOURS = 48
TERMS_BEFORE = timedelta(days=1)  # the words of a buzz are compared with the day before
MAX_TEXTS = 20_000  # tweets read for the words: enough for any window on one box


def buzz_context(
    connection: Connection,
    buzz: Buzz,
    alert_id: str,
    model_card: Mapping[str, Any],
    expected: Callable[[datetime], tuple[float, int] | None],
) -> BuzzContext:
    in_window = (
        predictions.c.brand == buzz.brand,
        predictions.c.label == "negative",
        predictions.c.tweeted_at >= buzz.window_start,
        predictions.c.tweeted_at < min(buzz.window_end, buzz.at),  # what the detector saw
    )
    tweets = [
        BuzzTweet(row.text, row.probability_positive, as_utc(row.tweeted_at))
        for row in connection.execute(
            select(predictions.c.text, predictions.c.probability_positive, predictions.c.tweeted_at)
            .where(*in_window)
            .order_by(predictions.c.probability_positive, predictions.c.tweeted_at)
            .limit(TOP_TWEETS)
        )
    ]
    window_texts: Sequence[str] = (
        connection.execute(select(predictions.c.text).where(*in_window).limit(MAX_TEXTS))
        .scalars()
        .all()
    )
    before_start = buzz.window_start - TERMS_BEFORE
    before_texts: Sequence[str] = (
        connection.execute(
            select(predictions.c.text)
            .where(
                predictions.c.brand == buzz.brand,
                predictions.c.label == "negative",
                predictions.c.tweeted_at >= before_start,
                predictions.c.tweeted_at < buzz.window_start,
            )
            .limit(MAX_TEXTS)
        )
        .scalars()
        .all()
    )
    terms = grown_terms(
        window_texts, before_texts, TERMS_BEFORE / (buzz.window_end - buzz.window_start)
    )
    last_hour = buzz.at.replace(minute=0, second=0, microsecond=0)
    first_hour = last_hour - timedelta(hours=CHART_HOURS - 1)
    hourly = window_counts(connection, 3600, first_hour, buzz.at, buzz.brand)
    hours = [first_hour + timedelta(hours=n) for n in range(CHART_HOURS)]
    return BuzzContext(
        alert_id=alert_id,
        brand=buzz.brand,
        fired_at=buzz.at,
        window_start=buzz.window_start,
        window_end=buzz.window_end,
        negatives=buzz.negatives,
        total=buzz.total,
        expected=buzz.baseline.negatives,
        threshold=buzz.baseline.threshold,
        baseline_share=buzz.baseline.share,
        baseline_days=buzz.baseline.days,
        span_negatives=buzz.span_negatives,
        span_expected=buzz.span_expected,
        span_hours=buzz.span_hours,
        reason=buzz.reason,
        summary=buzz.summary,
        tweets=tweets,
        terms=terms,
        model_card=dict(model_card),
        hours=[
            BrandHour(hour, *hourly.get((buzz.brand, hour), (0, 0)), *_band(expected, hour, buzz))
            for hour in hours
        ],
    )


def _band(
    expected: Callable[[datetime], tuple[float, int] | None], hour: datetime, buzz: Buzz
) -> tuple[float | None, int | None]:
    """The chart's expected band for an hour: only where the windows are hours."""
    if buzz.window_end - buzz.window_start != timedelta(hours=1):
        return None, None
    return expected(hour) or (None, None)
