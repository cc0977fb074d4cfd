"""The neutral band: chosen on labelled tweets with neutral ones, kept in the manifest, applied
by the one `Decision`, and never moving the binary call the KPI figures are made of."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from badbuzz.bundle.manifest import Manifest
from badbuzz.bundle.model import Decision
from badbuzz.errors import BundleError
from training.evaluation.neutral import (
    NEGATIVES_CALLED_NEUTRAL,
    band_metrics,
    choose_neutral_band,
)

NEGATIVE, POSITIVE, NEUTRAL = 0, 1, -1


def planted(seed: int = 0, neutral: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """Scores as a binary model gives them: negatives low, positives high, neutral ones in the
    middle where the model hesitates."""
    draw = np.random.default_rng(seed)
    scores = np.concatenate(
        [
            draw.beta(2, 6, 700),  # negatives around 0.25
            draw.beta(6, 6, neutral),  # neutral around 0.5
            draw.beta(6, 2, 300),  # positives around 0.75
        ]
    )
    labels = np.concatenate([[NEGATIVE] * 700, [NEUTRAL] * neutral, [POSITIVE] * 300])
    return labels, scores


def test_the_band_takes_the_middle_where_neutral_tweets_are() -> None:
    labels, scores = planted()

    band = choose_neutral_band(labels, scores, threshold=0.5)

    assert band is not None
    low, high = band
    assert 0.3 < low < 0.5 < high < 0.7
    later_labels, later_scores = planted(seed=1)  # judged on other tweets than it was chosen on
    metrics = band_metrics(later_labels, later_scores, 0.5, band)
    without = band_metrics(later_labels, later_scores, 0.5, (0.5, 0.5))  # an empty band
    assert (
        metrics["neutral_called_negative_with_band"]
        < 0.3
        < without["neutral_called_negative_with_band"]
    )
    assert metrics[NEGATIVES_CALLED_NEUTRAL] < 0.2


def test_no_band_without_enough_neutral_tweets() -> None:
    labels, scores = planted(neutral=10)
    assert choose_neutral_band(labels, scores, threshold=0.5) is None


def test_the_decision_labels_the_band_neutral_and_keeps_the_binary_call() -> None:
    decision = Decision(threshold=0.6, neutral_band=(0.4, 0.7))
    scores = np.array([0.1, 0.4, 0.65, 0.7, 0.9])

    assert decision.label_all(scores) == ["negative", "neutral", "neutral", "positive", "positive"]
    assert decision.label(0.399) == "negative"
    assert decision.is_positive(scores).tolist() == [False, False, True, True, True]
    assert Decision(threshold=0.6).label(0.65) == "positive"  # no band: as before


def test_the_manifest_keeps_the_band_and_refuses_a_broken_one(tmp_path: Path) -> None:
    (tmp_path / "model.pkl").write_bytes(b"x")
    manifest = Manifest("sklearn", "model.pkl", {}, threshold=0.6, neutral_band=[0.4, 0.7])
    manifest.write(tmp_path)
    assert Manifest.read(tmp_path).neutral_band == [0.4, 0.7]

    values = json.loads((tmp_path / "manifest.json").read_text())
    (tmp_path / "manifest.json").write_text(json.dumps(values | {"neutral_band": [0.8, 0.2]}))
    with pytest.raises(BundleError, match="neutral_band"):
        Manifest.read(tmp_path)
