"""Analyse a tweet: its label and probability, then "Is this right?" sent as feedback."""

from __future__ import annotations

import streamlit as st

from ui.client import ApiClient, ApiError

TEXT_KEY = "analyse_text"
PREDICTION_KEY = "analyse_prediction"
VERDICT_KEY = "analyse_verdict"
COLOURS = {"negative": "red", "neutral": "gray", "positive": "green"}


def _new_tweet() -> None:
    # a callback runs before the widgets are drawn: the only time a widget's value may be set
    st.session_state[TEXT_KEY] = ""
    st.session_state.pop(PREDICTION_KEY, None)
    st.session_state.pop(VERDICT_KEY, None)


def render(client: ApiClient) -> None:
    st.header("Analyse a tweet")
    text = st.text_area("Tweet", key=TEXT_KEY, max_chars=1_000, placeholder="@airline ...")
    if st.button("Analyse", type="primary", key="analyse"):
        if not text.strip():
            st.warning("Type or paste a tweet first.")
        else:
            try:
                st.session_state[PREDICTION_KEY] = client.predict(text)
                st.session_state.pop(VERDICT_KEY, None)
            except ApiError as error:
                st.error(str(error))
    prediction = st.session_state.get(PREDICTION_KEY)
    if prediction is None:
        return
    _show(prediction)
    _ask_verdict(client, prediction["prediction_id"])
    st.button("New tweet", key="new_tweet", on_click=_new_tweet)


def _show(prediction: dict) -> None:
    label = prediction["label"]
    p = float(prediction["probability_positive"])
    st.markdown(f"### :{COLOURS.get(label, 'gray')}[{label.capitalize()}]")
    st.progress(p, text=f"Probability positive: {p:.2f}")
    model = prediction["model"]
    family = model.get("model_family") or "unknown family"
    st.caption(f"Model {model['name']} version {model['version']} ({family})")


def _ask_verdict(client: ApiClient, prediction_id: str) -> None:
    verdict = st.session_state.get(VERDICT_KEY)
    if verdict is None:
        st.write("Is this right?")
        yes, no, _ = st.columns([1, 1, 6])
        answer = None
        if yes.button("Yes", key="verdict_yes"):
            answer = True
        if no.button("No", key="verdict_no"):
            answer = False
        if answer is None:
            return
        try:
            client.feedback(prediction_id, answer)
        except ApiError as error:
            st.error(f"Your answer was not recorded. {error}")
            return
        st.session_state[VERDICT_KEY] = verdict = answer
    if verdict:
        st.success("Thanks: recorded as right.")
    else:
        st.success("Thanks: recorded as wrong. Wrong predictions that pile up raise an alert.")
