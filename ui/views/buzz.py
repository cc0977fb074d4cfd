"""Buzz: the share of negative tweets over time, once the API serves `/buzz`."""

from __future__ import annotations

import streamlit as st

from ui.client import ApiClient, ApiError


def render(client: ApiClient) -> None:
    st.header("Buzz")
    try:
        buzz = client.buzz()
    except ApiError as error:
        st.error(str(error))
        return
    if buzz is None:
        st.info(
            "Buzz is not available on this API: it has no /buzz yet (it answered 404). It "
            "comes with the bad-buzz watch; ask whoever runs the API to update it."
        )
        return
    st.json(buzz)
