"""Alerts: the recent alerts with their reports (`GET /alerts`, with the API key)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui.client import ApiClient, ApiError
from ui.mail_words import mail_status


def render(client: ApiClient) -> None:
    st.header("Alerts")
    try:
        alerts = client.alerts()
    except ApiError as error:
        st.error(str(error))
        return
    if not alerts:
        st.info("No alerts: wrong predictions have not piled up.")
        return
    st.write(f"{len(alerts)} recent alerts, the newest first.")
    for alert in alerts:
        mail = alert["mail"]
        # a dead letter shows on the closed expander: nobody will be mailed about it
        dead = " (mail not delivered)" if mail.get("state") == "dead" else ""
        with st.expander(f"{alert['fired_at']}: {alert['summary']}{dead}", expanded=False):
            st.write(
                f"Rule **{alert['rule']}**, observed {alert['observed']:g} against a threshold "
                f"of {alert['threshold']:g}, model version {alert['model_version']}. "
                f"Mail: {mail_status(mail)}."
            )
            if alert["flagged"]:
                st.dataframe(pd.DataFrame(alert["flagged"]), hide_index=True)
            st.text(alert["report_text"])
            if alert.get("report_path"):
                st.caption(f"Report folder on the API's machine: {alert['report_path']}")
