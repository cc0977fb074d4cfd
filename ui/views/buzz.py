"""Buzz: negative tweets per brand over time, with the buzz alerts marked (`GET /buzz`)."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from ui import buzz_frames
from ui.client import ApiClient, ApiError
from ui.mail_words import mail_status

HOURS = {"last 24 hours": 24, "last 48 hours": 48, "last 7 days": 168}


def render(client: ApiClient) -> None:
    st.header("Buzz")
    period = st.selectbox("Period", list(HOURS), index=1, key="buzz_period")
    try:
        buzz = client.buzz(hours=HOURS[period])
    except ApiError as error:
        st.error(str(error))
        return
    if buzz is None:
        st.info(
            "Buzz is not available on this API: it has no /buzz yet (it answered 404). It "
            "comes with the bad-buzz watch; ask whoever runs the API to update it."
        )
        return
    windows = buzz_frames.windows_frame(buzz)
    if windows.empty or not windows["total"].any():
        st.info("No tweets in this period yet: the buzz shows once predictions come in.")
        return
    minutes = buzz["window_seconds"] / 60
    st.caption(
        f"Negative tweets per {minutes:g}-minute window, by the tweets' own time; dashed: what "
        "the watch expects at that time of day."
    )
    brands = sorted(windows["brand"].unique())
    chosen = st.multiselect("Brands", brands, default=brands, key="buzz_brands")
    shown = windows[windows["brand"].isin(chosen)]
    alerts = buzz_frames.alerts_frame(buzz)
    st.altair_chart(_chart(shown, alerts[alerts["brand"].isin(chosen)]), use_container_width=True)
    st.subheader("By brand")
    st.dataframe(buzz_frames.brand_summary(buzz), hide_index=True)
    _show_alerts(alerts, buzz["alerts"])


def _chart(windows: pd.DataFrame, alerts: pd.DataFrame) -> alt.Chart | alt.LayerChart:
    lines = (
        alt.Chart(windows)
        .mark_line(point=True)
        .encode(
            x=alt.X("start:T", title="window start (UTC)"),
            y=alt.Y("negatives:Q", title="negative tweets"),
            color=alt.Color("brand:N"),
            tooltip=[
                "brand",
                "start:T",
                "negatives",
                "total",
                alt.Tooltip("negative_share:Q", format=".0%"),
            ],
        )
    )
    expected = (
        alt.Chart(windows.dropna(subset=["expected"]))
        .mark_line(strokeDash=[2, 2], opacity=0.6)
        .encode(
            x="start:T", y="expected:Q", color=alt.Color("brand:N"), tooltip=["brand", "expected"]
        )
    )
    lines = lines + expected
    if alerts.empty:
        return lines
    marks = (
        alt.Chart(alerts)
        .mark_rule(color="red", strokeDash=[4, 3])
        .encode(x="window_start:T", tooltip=["brand", "summary"])
    )
    return lines + marks


def _show_alerts(alerts: pd.DataFrame, raw: list[dict[str, Any]]) -> None:
    st.subheader("Buzz alerts")
    if alerts.empty:
        st.info("No buzz alert in this period.")
        return
    st.write(f"{len(alerts)} buzz alerts, the newest first (red lines on the chart).")
    for alert in raw:
        with st.expander(f"{alert['brand']}: {alert['summary']}"):
            mail = alert["mail"]
            st.write(
                f"Window {alert['window_start']} to {alert['window_end']}: "
                f"{alert['negatives']} negatives, about {alert['baseline']:.0f} expected. "
                f"Model version {alert['model_version']}. Mail: {mail_status(mail)}."
            )
            if alert.get("report_path"):
                st.caption(f"Report folder on the API's machine: {alert['report_path']}")
