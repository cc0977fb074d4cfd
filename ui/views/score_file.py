"""Score a file: a CSV or TXT of tweets scored through `/predict/batch`, then explored and
downloaded. The file logic is `ui.scoring`; this page only draws it."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui import scoring
from ui.client import ApiClient, ApiError

UPLOADER_KEY = "score_uploader"
# (file name, bytes): set by the uploader's callback, so that the rest of the page reads one
# place (and a test can put a file there, since AppTest cannot upload)
UPLOAD_KEY = "score_upload"
RESULT_KEY = "score_result"  # ((file name, column), scored table, Tweets)


def _uploaded() -> None:
    file = st.session_state.get(UPLOADER_KEY)
    st.session_state[UPLOAD_KEY] = None if file is None else (file.name, file.getvalue())
    st.session_state.pop(RESULT_KEY, None)


def render(client: ApiClient) -> None:
    st.header("Score a file")
    st.file_uploader(
        "A CSV with a header row, or a TXT with one tweet per line (UTF-8)",
        type=["csv", "txt"],
        key=UPLOADER_KEY,
        on_change=_uploaded,
    )
    upload = st.session_state.get(UPLOAD_KEY)
    if upload is None:
        return
    name, data = upload
    try:
        frame = scoring.read_tweets_file(data, name)
    except scoring.FileRefused as error:
        st.error(str(error))
        return
    columns = list(frame.columns)
    column = st.selectbox(
        "Column with the tweets",
        columns,
        index=columns.index(scoring.guess_text_column(frame)),
        key="score_column",
    )
    st.caption(f"{name}: {len(frame):,} rows. The first ones:")
    st.dataframe(frame.head(10), hide_index=True)
    try:
        tweets = scoring.tweets_in(frame, column)
    except scoring.FileRefused as error:
        st.error(str(error))
        return
    if tweets.empty or tweets.too_long:
        st.warning(
            f"Left out: {tweets.empty:,} empty rows and {tweets.too_long:,} rows over "
            f"{scoring.MAX_TEXT_CHARS} characters."
        )
    signature = (name, column)
    if st.button(f"Score {len(tweets.texts):,} tweets", type="primary", key="score"):
        _score(client, tweets, signature)
    result = st.session_state.get(RESULT_KEY)
    if result is not None and result[0] == signature:
        _show(result[1], name)


def _score(client: ApiClient, tweets: scoring.Tweets, signature: tuple[str, str]) -> None:
    bar = st.progress(0.0, text="Scoring...")

    def progress(done: int, total: int) -> None:
        bar.progress(done / total, text=f"Scored {done:,} of {total:,} tweets")

    try:
        predictions = client.predict_batch(tweets.texts, on_progress=progress)
    except ApiError as error:
        st.error(f"Scoring stopped. {error}")
        return
    st.session_state[RESULT_KEY] = (signature, scoring.scored_table(tweets, predictions))


def _show(table: pd.DataFrame, name: str) -> None:
    counts = scoring.label_counts(table)
    shown = [label for label in scoring.LABELS if label != "neutral" or counts[label]]
    for column, label in zip(st.columns(len(shown)), shown, strict=True):
        column.metric(label.capitalize(), f"{counts[label]:,}")
    st.subheader("Probability of positive")
    st.bar_chart(scoring.probability_histogram(table))
    st.subheader("Tweets, the most negative first")
    labels = st.multiselect("Labels", shown, default=shown, key="score_labels")
    st.dataframe(table[table["label"].isin(labels)], hide_index=True)
    st.download_button(
        "Download the scored CSV",
        data=scoring.to_csv_bytes(table),
        file_name=f"scored-{name.rsplit('.', 1)[0]}.csv",
        mime="text/csv",
        key="score_download",
    )
