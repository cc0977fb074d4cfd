"""The /buzz answer shaped into the Buzz page's tables."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ui import buzz_frames

MAIL = {"sent_at": None, "attempts": 0, "last_error": None}


def window(start: str, negatives: int, total: int) -> dict[str, Any]:
    return {
        "start": start,
        "end": start.replace(":00:00", ":15:00"),
        "negatives": negatives,
        "total": total,
        "negative_share": negatives / total if total else None,
        "expected": 2.5,
    }


BUZZ: dict[str, Any] = {
    "window_seconds": 900,
    "since": "2026-11-22T10:00:00Z",
    "until": "2026-11-22T12:15:00Z",
    "brands": [
        {
            "brand": "United",
            "baseline": {
                "negatives": 2.0,
                "threshold": 9,
                "negative_share": 0.25,
                "days": 3,
                "dispersion": 1.5,
            },
            "learning": None,
            "windows": [
                window("2026-11-22T12:00:00Z", 12, 20),
                window("2026-11-22T10:00:00Z", 2, 8),
            ],
        },
        {
            "brand": "all",
            "baseline": "learning",
            "learning": "learning: 3 days of at least 24 tweets are needed",
            "windows": [window("2026-11-22T11:00:00Z", 0, 0)],
        },
    ],
    "alerts": [
        {
            "id": "a1",
            "brand": "United",
            "fired_at": "2026-11-22T12:16:00Z",
            "window_start": "2026-11-22T12:00:00Z",
            "window_end": "2026-11-22T12:15:00Z",
            "negatives": 12,
            "baseline": 2.0,
            "threshold": 9,
            "summary": "12 negative tweets about United",
            "model_version": "3",
            "report_path": None,
            "mail": MAIL,
        }
    ],
}


def test_windows_are_one_row_per_brand_and_window_oldest_first() -> None:
    frame = buzz_frames.windows_frame(BUZZ)
    assert list(frame["brand"]) == ["United", "United", "all"]
    assert list(frame["negatives"]) == [2, 12, 0]
    assert str(frame["start"].dt.tz) == "UTC"


def test_the_summary_totals_each_brand_beside_its_usual_level() -> None:
    summary = buzz_frames.brand_summary(BUZZ).set_index("brand")
    assert summary.loc["United", "tweets"] == 28 and summary.loc["United", "negatives"] == 14
    assert summary.loc["United", "negative_share"] == 14 / 28
    assert summary.loc["United", "expected_now"] == 2.0
    assert summary.loc["United", "watch"] == "watching"
    assert pd.isna(summary.loc["all", "negative_share"])  # no tweets: no share
    assert summary.loc["all", "watch"] == "learning"
    assert pd.isna(summary.loc["all", "expected_now"])  # no baseline yet


def test_alerts_are_newest_first_with_their_window() -> None:
    alerts = buzz_frames.alerts_frame(BUZZ)
    assert list(alerts["brand"]) == ["United"]
    assert alerts.loc[0, "window_start"].isoformat() == "2026-11-22T12:00:00+00:00"
    assert buzz_frames.alerts_frame({**BUZZ, "alerts": []}).empty
