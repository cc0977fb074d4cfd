"""Analyse a tweet: its label and probability, then "Is this right?" sent as feedback (a
wrong one with its right label)."""

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
    _ask_verdict(client, prediction)
    st.button("New tweet", key="new_tweet", on_click=_new_tweet)


def _show(prediction: dict) -> None:
    label = prediction["label"]
    p = float(prediction["probability_positive"])
    st.markdown(f"### :{COLOURS.get(label, 'gray')}[{label.capitalize()}]")
    st.progress(p, text=f"Probability positive: {p:.2f}")
    model = prediction["model"]
    family = model.get("model_family") or "unknown family"
    st.caption(f"Model {model['name']} version {model['version']} ({family})")


def _ask_verdict(client: ApiClient, prediction: dict) -> None:
    """Yes, or No with the right label (one click): a wrong neutral prediction teaches the
    binary model nothing without it, and a tweet said to be neutral teaches the neutral head."""
    verdict = st.session_state.get(VERDICT_KEY)
    if verdict is None:
        st.write("Is this right?")
        others = [label for label in COLOURS if label != prediction["label"]]
        columns = st.columns([1, 2, 2, 3])
        answer: tuple[bool, str | None] | None = None
        if columns[0].button("Yes", key="verdict_yes"):
            answer = (True, None)
        for column, label in zip(columns[1:], others, strict=False):
            if column.button(f"No, {label}", key=f"verdict_{label}"):
                answer = (False, label)
        if answer is None:
            return
        try:
            client.feedback(prediction["prediction_id"], *answer)
        except ApiError as error:
            st.error(f"Your answer was not recorded. {error}")
            return
        st.session_state[VERDICT_KEY] = verdict = answer
    correct, right_label = verdict
    if correct:
        st.success("Thanks: recorded as right.")
    else:
        st.success(
            f"Thanks: recorded as wrong (it is {right_label}). Wrong predictions that pile up "
            "raise an alert, and the next retrain learns from them."
        )
