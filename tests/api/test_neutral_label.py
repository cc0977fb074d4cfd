"""A bundle with a neutral band, served: `/predict` answers `neutral` for a score inside it,
the stored prediction says so, a verdict on it is taken, and the bad-buzz counts keep it apart
from the negatives."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from badbuzz.bundle.manifest import Manifest
from badbuzz.bundle.model import ModelBundle
from tests.bundles import write_tiny_sklearn_bundle

from .support import API_KEY, KEY_HEADER, serving

TEXTS = ["I hate this airline, worst flight ever", "what time does boarding start", "love it"]


@pytest.fixture(scope="module")
def banded(sentiment140_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny bundle, its band set around the middle text's score and no other."""
    bundle = write_tiny_sklearn_bundle(tmp_path_factory.mktemp("banded") / "bundle")
    scores = ModelBundle.load(bundle).predict_proba(TEXTS)
    middle = float(scores[1])
    others = np.delete(scores, 1)
    gap = float(np.min(np.abs(others - middle)))
    assert gap > 1e-6, f"the tiny model scores two texts alike: {scores}"
    manifest = Manifest.read(bundle)
    manifest.neutral_band = [middle - gap / 2, middle + gap / 2]
    manifest.write(bundle)
    return bundle


@pytest.fixture(scope="module")
def client(banded: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    home = tmp_path_factory.mktemp("api-neutral") / "home"
    with serving(home, banded, KEY_HEADER, api_key=SecretStr(API_KEY)) as test_client:
        yield test_client


def test_a_score_inside_the_band_is_answered_stored_and_judged_as_neutral(
    client: TestClient,
) -> None:
    answers = client.post("/predict/batch", json={"texts": TEXTS}).json()["predictions"]
    labels = [answer["label"] for answer in answers]

    assert labels[1] == "neutral"
    assert "neutral" not in (labels[0], labels[2])
    neutral = answers[1]
    verdict = client.post(
        "/feedback", json={"prediction_id": neutral["prediction_id"], "correct": True}
    )
    assert verdict.status_code == 201, verdict.text

    buzz = client.get("/buzz", params={"hours": 3}).json()
    windows = [w for brand in buzz["brands"] for w in brand["windows"] if w["total"]]
    assert sum(w["total"] for w in windows) == 3
    called_negative = labels.count("negative")
    assert sum(w["negatives"] for w in windows) == called_negative  # the neutral one apart


def test_a_wrong_neutral_prediction_can_name_its_right_label(client: TestClient) -> None:
    from ops.database import feedback
    from training.feedback.store import read_feedback

    neutral = client.post("/predict", json={"text": TEXTS[1]}).json()
    assert neutral["label"] == "neutral"
    judged = {"prediction_id": neutral["prediction_id"], "correct": False}
    same = client.post("/feedback", json={**judged, "right_label": "neutral"})
    assert same.status_code == 422 and "is the predicted label" in same.json()["detail"]
    contradicting = client.post(
        "/feedback", json={**judged, "correct": True, "right_label": "negative"}
    )
    assert (
        contradicting.status_code == 422
        and "right_label is for wrong predictions" in contradicting.text
    )
    given = client.post("/feedback", json={**judged, "right_label": "negative"})
    assert given.status_code == 201, given.text
    url = str(client.app.state.store.engine.url)  # type: ignore[attr-defined]
    stored = read_feedback(url).set_index("id").loc[given.json()["feedback_id"]]
    assert (stored["predicted_label"], stored["right_label"]) == ("neutral", "negative")
    assert "right_label" in feedback.c
