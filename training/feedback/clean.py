"""From verdicts to labelled tweets: a right verdict confirms the predicted label (neutral
too), a wrong one gives the right label the user named, else the other binary label. Then one
row per text (the same text after the default normalisation, what a model sees), texts given
two labels dropped, and the latest verdicts kept aside as the gate. The cleaned rows are
written in Sentiment140's layout by `badbuzz data feedback-export`, and named in a run by
their hash."""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from badbuzz.text import normalize_many
from training.data.client import LABEL_OF_VALUE, NEUTRAL, POLARITY_OF_LABEL
from training.data.sentiment140 import data_hash

log = logging.getLogger(__name__)

EXPORT_QUERY = "NO_QUERY"  # Sentiment140's query column, as in its training file
EXPORT_DATE = "%a %b %d %H:%M:%S UTC %Y"  # Sentiment140's date format


@dataclass(frozen=True)
class CleanFeedback:
    rows: pd.DataFrame  # id, created_at, text, label (0/1, -1 neutral), polarity (0/4, 2)
    verdicts: int  # rows read from the store
    unknown_labels: int  # verdicts without a label (a wrong neutral one, not named): dropped
    duplicates: int  # repeats of a text with the same label: dropped
    contradictions: int  # texts given both labels: all their rows dropped

    @property
    def hash(self) -> str:
        """sha256 of the cleaned labels and texts, whatever order they arrived in."""
        return data_hash(self.rows.sort_values(["text", "polarity"], kind="stable"))


def clean_feedback(verdicts: pd.DataFrame) -> CleanFeedback:
    """Labelled, deduplicated, contradiction-free tweets from the store's verdicts (columns
    id, text, predicted_label, correct, created_at, and right_label where the user gave it;
    oldest first). A verdict's label: the right label the user gave, else the predicted one
    if correct (neutral too), else the other binary one; none (dropped) for a `neutral`
    prediction judged wrong without a right label. Neutral rows teach the neutral head
    (`neutral_head`); the binary models learn from and are judged on the others."""
    predicted = verdicts["predicted_label"].map(LABEL_OF_VALUE)
    correct = verdicts["correct"].astype(bool)
    given = verdicts.get("right_label", pd.Series(None, index=verdicts.index))
    other = (1 - predicted).where(predicted != NEUTRAL)  # a wrong neutral one: unknown
    label = given.map(LABEL_OF_VALUE).where(given.notna(), predicted.where(correct, other))
    known = label.notna()
    if not known.all():
        log.warning(
            "%d verdicts without a label (a neutral prediction judged wrong without its "
            "right_label) were dropped",
            int((~known).sum()),
        )
    rows = verdicts[known].copy()
    rows["label"] = label[known].astype(int)
    rows["key"] = normalize_many(rows["text"])
    labels_per_text = rows.groupby("key")["label"].transform("nunique")
    contradicting = labels_per_text > 1
    contradictions = int(rows.loc[contradicting, "key"].nunique())
    rows = rows[~contradicting]
    unique = rows.drop_duplicates("key", keep="first")
    unique = unique.assign(polarity=unique["label"].map(POLARITY_OF_LABEL))
    return CleanFeedback(
        rows=unique[["id", "created_at", "text", "label", "polarity"]].reset_index(drop=True),
        verdicts=len(verdicts),
        unknown_labels=int((~known).sum()),
        duplicates=len(rows) - len(unique),
        contradictions=contradictions,
    )


def split_gate(rows: pd.DataFrame, gate_share: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training part, gate part), in time order: the gate is the latest `gate_share` of
    the rows (by `created_at`), so the challenger is judged on verdicts given after the ones
    it learned from, as it will be served. Both parts are oldest first."""
    ordered = rows.sort_values("created_at", kind="stable").reset_index(drop=True)
    gate_rows = min(max(1, round(len(ordered) * gate_share)), len(ordered) - 1)
    cut = len(ordered) - gate_rows
    return ordered.iloc[:cut].reset_index(drop=True), ordered.iloc[cut:].reset_index(drop=True)


def write_sentiment140(rows: pd.DataFrame, path: Path) -> Path:
    """Write cleaned feedback as a Sentiment140 training file: headerless, every field
    quoted, polarity (0/4), id (the feedback's), date, query, user (none), text. UTF-8, which
    `read_sentiment140` reads back exactly (its latin-1 read repairs UTF-8)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_ALL, lineterminator="\n")
        for row in rows.itertuples(index=False):
            date = pd.Timestamp(row.created_at).strftime(EXPORT_DATE)
            writer.writerow([row.polarity, row.id, date, EXPORT_QUERY, "", row.text])
    return path
