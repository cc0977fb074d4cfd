"""The console: `streamlit run ui/app.py`, with BADBUZZ_API_URL and BADBUZZ_API_KEY set.

Each run reads the settings (settings that cannot serve, e.g. production without a login,
are a banner and nothing else), asks for the console's password when one is set
(`ui/login.py`), checks that the API is up and ready (else a banner says which URL was
tried and what to do) and draws the page chosen in the sidebar.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st
from pydantic import ValidationError

from badbuzz.settings import UiSettings
from ui import login
from ui.client import ApiClient, ApiUnavailable
from ui.views import alerts, analyse, buzz, model, score_file

PAGES: dict[str, Callable[[ApiClient], None]] = {
    "Analyse a tweet": analyse.render,
    "Score a file": score_file.render,
    "Buzz": buzz.render,
    "Model": model.render,
    "Alerts": alerts.render,
}


def main() -> None:
    st.set_page_config(page_title="badbuzz console", layout="wide")
    try:
        settings = UiSettings()
    except ValidationError as error:
        # the messages only: the input may be a (weak) password
        st.error("**The console cannot start.** " + "; ".join(e["msg"] for e in error.errors()))
        st.stop()
    if not login.logged_in(settings):
        st.stop()
    page = st.sidebar.radio("Page", list(PAGES), key="page")
    st.sidebar.caption(f"API: {settings.api_url}")
    login.logout_button(settings)
    with ApiClient(settings) as client:
        try:
            client.readiness()
        except ApiUnavailable as error:
            st.error(
                f"**The API is not available.** {error}\n\n"
                f"Tried: `{settings.api_url}` (set with BADBUZZ_API_URL)."
            )
            st.stop()
        PAGES[page](client)


main()
