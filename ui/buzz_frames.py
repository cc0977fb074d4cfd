"""The `/buzz` answer as tables the Buzz page draws: negatives per brand and window, and the
buzz alerts. No Streamlit here, so the shaping is tested on its own."""

from __future__ import annotations

from typing import Any

import pandas as pd

WINDOW_COLUMNS = ["brand", "start", "end", "negatives", "total", "negative_share", "expected"]
ALERT_COLUMNS = ["brand", "window_start", "window_end", "negatives", "baseline", "summary"]


def windows_frame(buzz: dict[str, Any]) -> pd.DataFrame:
    """One row per brand and window, oldest first; times as UTC timestamps."""
    rows = [
        {"brand": brand["brand"], **window}
        for brand in buzz["brands"]
        for window in brand["windows"]
    ]
    frame = pd.DataFrame(rows, columns=WINDOW_COLUMNS)
    for column in ("start", "end"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame.sort_values(["brand", "start"], ignore_index=True)


def alerts_frame(buzz: dict[str, Any]) -> pd.DataFrame:
    """One row per buzz alert, newest first."""
    frame = pd.DataFrame(buzz["alerts"], columns=ALERT_COLUMNS)
    for column in ("window_start", "window_end"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame.sort_values("window_start", ascending=False, ignore_index=True)


def brand_summary(buzz: dict[str, Any]) -> pd.DataFrame:
    """Per brand: the tweets and negatives shown, their share, and what the watch expects of
    the current window (or that it is still learning the brand)."""
    rows = []
    for brand in buzz["brands"]:
        negatives = sum(w["negatives"] for w in brand["windows"])
        total = sum(w["total"] for w in brand["windows"])
        baseline = brand["baseline"]
        known = isinstance(baseline, dict)
        rows.append(
            {
                "brand": brand["brand"],
                "tweets": total,
                "negatives": negatives,
                "negative_share": negatives / total if total else None,
                "watch": "watching" if known else "learning",
                "expected_now": baseline["negatives"] if known else None,
                "alerts_at": baseline["threshold"] if known else None,
            }
        )
    return pd.DataFrame(rows)
