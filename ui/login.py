"""The console's own login: with BADBUZZ_CONSOLE_PASSWORD set, a form before any page.

Without a password there is no login (development, `make demo`); in production the settings
refuse to start without one unless a proxy's login guards the console (BADBUZZ_CONSOLE_LOGIN).
The session's login lives in Streamlit's server-side session state: a reload asks again.
"""

from __future__ import annotations

import secrets
import time

import streamlit as st

from badbuzz.settings import UiSettings

LOGGED_IN = "console_logged_in"
WRONG_PASSWORD_DELAY_S = 1.0  # slows guessing down in one session


def logged_in(settings: UiSettings) -> bool:
    """True when this session may see the pages; otherwise the form is drawn and the caller
    draws nothing else."""
    if settings.console_password is None or st.session_state.get(LOGGED_IN):
        return True
    expected = settings.console_password.get_secret_value().encode()
    with st.form("login"):
        st.subheader("badbuzz console")
        password = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Log in")
    if submitted:
        if secrets.compare_digest(password.encode(), expected):
            st.session_state[LOGGED_IN] = True
            del st.session_state["login_password"]
            st.rerun()
        time.sleep(WRONG_PASSWORD_DELAY_S)
        st.error("Wrong password.")
    return False


def logout_button(settings: UiSettings) -> None:
    """A "Log out" button in the sidebar, when there is a login."""
    if settings.console_password is not None and st.sidebar.button("Log out", key="logout"):
        st.session_state[LOGGED_IN] = False
        st.rerun()
