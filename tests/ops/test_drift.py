"""The drift watch: PSI and the negative share's z on known distributions, the reference a
bundle is recorded with, and the rule against a real SQLite database: predictions drawn like
the validation scores never fire, a shifted set fires once."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.engine import Engine

from badbuzz.bundle.manifest import MANIFEST, DriftReference, Manifest
from badbuzz.bundle.model import ModelBundle
from badbuzz.settings import OpsSettings
from ops.alerts import record_alert
from ops.database import alerts, connect, new_id, outbox, predictions
from ops.drift import psi, share_z
from ops.report import render_drift
from ops.rules import DRIFT, DriftRule, Firing
from tests.bundles import MANUAL_TEST_FILE

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
EPSILON = 1e-4


def validation_scores(rng: np.random.Generator, size: int) -> np.ndarray:
    """Scores like a sentiment classifier's on balanced tweets: most near 0 or 1."""
    return rng.beta(0.6, 0.6, size)


def negative_tweet_scores(rng: np.random.Generator, size: int) -> np.ndarray:
    """The same model on a set of negative tweets only: most scores low."""
    return rng.beta(0.6, 4.0, size)


@pytest.fixture
def reference() -> DriftReference:
    return DriftReference.from_scores(validation_scores(np.random.default_rng(0), 20_000), 0.5)


# -- the measures -----------------------------------------------------------------------


def test_the_same_distribution_has_a_psi_near_zero(reference: DriftReference) -> None:
    window = DriftReference.from_scores(validation_scores(np.random.default_rng(1), 2000), 0.5)
    assert psi(reference.fractions, reference.fractions, EPSILON) == 0.0
    assert psi(reference.fractions, window.fractions, EPSILON) < 0.02
    z = share_z(reference.negative_share, reference.count, window.negative_share, window.count)
    assert abs(z) < 3


def test_a_shifted_distribution_has_a_large_psi_and_z(reference: DriftReference) -> None:
    shifted = DriftReference.from_scores(negative_tweet_scores(np.random.default_rng(1), 2000), 0.5)
    assert psi(reference.fractions, shifted.fractions, EPSILON) > 0.25
    z = share_z(reference.negative_share, reference.count, shifted.negative_share, shifted.count)
    assert z > 10  # far more negatives than on validation


def test_psi_of_known_shares() -> None:
    # (0.5 - 0.25) ln 2 + (0.5 - 0.75) ln(2/3)
    expected = 0.25 * np.log(2) - 0.25 * np.log(2 / 3)
    assert psi([0.25, 0.75], [0.5, 0.5], EPSILON) == pytest.approx(expected)
    # an empty bin counts as epsilon, not as an infinite PSI
    assert np.isfinite(psi([0.0, 1.0], [0.5, 0.5], EPSILON))
    with pytest.raises(ValueError, match="bins"):
        psi([0.5, 0.5], [1.0], EPSILON)


def test_z_of_a_known_share() -> None:
    # pooled share 0.3, variance 0.21 * (1/1000 + 1/1000)
    assert share_z(0.2, 1000, 0.4, 1000) == pytest.approx(0.2 / np.sqrt(0.21 * 0.002))
    assert share_z(0.0, 100, 0.0, 100) == 0.0


# -- the reference in the bundle ---------------------------------------------------------


def test_the_reference_is_the_validation_histogram_and_negative_share() -> None:
    scores = np.array([0.0, 0.05, 0.15, 0.5, 0.55, 0.95, 1.0, 1.0])
    reference = DriftReference.from_scores(scores, threshold=0.55)
    assert reference.fractions == pytest.approx([2 / 8, 1 / 8, 0, 0, 0, 2 / 8, 0, 0, 0, 3 / 8])
    assert reference.negative_share == 4 / 8  # below the threshold; 0.55 itself is positive
    assert (reference.count, reference.threshold) == (8, 0.55)
    assert DriftReference.from_dict(json.loads(json.dumps(reference.to_dict()))) == reference


def test_a_tiny_model_s_reference_is_stored_and_old_bundles_load(
    tiny_bundle: Path, sentiment140_dir: Path, tmp_path: Path
) -> None:
    """What record() does with the validation scores of the bundle, on a tiny real model."""
    import shutil

    from training.data.sentiment140 import read_sentiment140

    directory = shutil.copytree(tiny_bundle, tmp_path / "bundle")
    bundle = ModelBundle.load(directory)
    tweets = read_sentiment140(sentiment140_dir / MANUAL_TEST_FILE)
    scores = bundle.predict_proba(tweets["text"].tolist())
    manifest = Manifest.read(directory)
    manifest.drift_reference = DriftReference.from_scores(scores, bundle.threshold).to_dict()
    manifest.write(directory)

    stored = ModelBundle.load(directory).manifest.drift_reference
    assert stored is not None
    reference = DriftReference.from_dict(stored)
    assert sum(reference.fractions) == pytest.approx(1.0)
    assert reference.count == len(tweets)
    assert reference.negative_share == pytest.approx(float(np.mean(scores < bundle.threshold)))

    # a bundle recorded before the reference existed has no such key: it loads, without one
    values = json.loads((directory / MANIFEST).read_text())
    del values["drift_reference"]
    (directory / MANIFEST).write_text(json.dumps(values))
    assert ModelBundle.load(directory).manifest.drift_reference is None


# -- the rule on a real database ---------------------------------------------------------


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = connect(f"sqlite:///{tmp_path / 'ops.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def settings(tmp_path: Path) -> OpsSettings:
    return OpsSettings(home=tmp_path)


def predict(engine: Engine, scores: np.ndarray, start: datetime, version: str = "3") -> None:
    """Predictions of `version`, one a second from `start`."""
    rows = [
        {
            "id": new_id(),
            "text": "my flight",
            "label": "positive" if score >= 0.5 else "negative",
            "probability_positive": float(score),
            "model_name": "tweet-sentiment",
            "model_version": version,
            "created_at": start + timedelta(seconds=i),
        }
        for i, score in enumerate(scores)
    ]
    with engine.begin() as connection:
        connection.execute(insert(predictions), rows)


def rule(served: tuple[str, dict[str, Any] | None] | None) -> DriftRule:
    defaults = OpsSettings()
    return DriftRule(
        lambda: served,
        defaults.drift.psi,
        defaults.drift.z,
        defaults.drift.window_seconds,
        defaults.drift.min_predictions,
        defaults.drift.epsilon,
        defaults.drift.cooldown_seconds,
        defaults.drift.check_interval_s,
    )


def check(engine: Engine, settings: OpsSettings, drift: DriftRule, now: datetime) -> Firing | None:
    """What the jobs do: check, and record the alert if it fires."""
    with engine.connect() as connection:
        firing = drift.check(connection, now)
    if firing is not None:
        record_alert(engine, firing, new_id(), {"version": "3"}, settings, render_drift)
    return firing


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def test_predictions_like_validation_do_not_fire_a_shifted_set_fires_once(
    engine: Engine, settings: OpsSettings, reference: DriftReference
) -> None:
    drift = rule(("3", reference.to_dict()))
    rng = np.random.default_rng(2)
    predict(engine, validation_scores(rng, 600), T0)
    now = T0 + timedelta(seconds=600)
    assert check(engine, settings, drift, now) is None

    # an hour later, the model scores tweets of another kind: negatives only
    later = T0 + timedelta(hours=2)
    predict(engine, negative_tweet_scores(rng, 300), later)
    now = later + timedelta(seconds=300)
    firing = check(engine, settings, drift, now)
    assert firing is not None and firing.rule == DRIFT
    assert firing.observed >= firing.threshold == 0.25
    assert "model version 3 drifted over 300 predictions" in firing.summary
    assert count(engine, alerts) == count(engine, outbox) == 1

    # the drift goes on: one alert per cooldown, not one per check
    predict(engine, negative_tweet_scores(rng, 300), now)
    assert check(engine, settings, drift, now + timedelta(seconds=300)) is None
    assert count(engine, alerts) == 1

    with engine.connect() as connection:
        report = connection.execute(select(alerts.c.report_text)).scalar_one()
    assert "PSI" in report and "BADBUZZ_DRIFT_PSI" in report


def test_too_few_predictions_or_another_version_give_no_verdict(
    engine: Engine, settings: OpsSettings, reference: DriftReference
) -> None:
    rng = np.random.default_rng(3)
    predict(engine, negative_tweet_scores(rng, 150), T0)  # under the minimum of 200
    predict(engine, negative_tweet_scores(rng, 500), T0, version="2")  # not the served one
    now = T0 + timedelta(seconds=600)
    assert check(engine, settings, rule(("3", reference.to_dict())), now) is None
    assert check(engine, settings, rule(("2", reference.to_dict())), now) is not None


def test_a_bundle_without_a_reference_stays_quiet_and_says_so_once(
    engine: Engine, settings: OpsSettings, caplog: pytest.LogCaptureFixture
) -> None:
    predict(engine, negative_tweet_scores(np.random.default_rng(4), 300), T0)
    drift = rule(("3", None))
    with caplog.at_level(logging.INFO, logger="ops.rules"):
        for seconds in (300, 301, 302):
            assert check(engine, settings, drift, T0 + timedelta(seconds=seconds)) is None
    said = [r for r in caplog.records if "no drift reference" in r.getMessage()]
    assert len(said) == 1
    with engine.connect() as connection:
        assert rule(None).check(connection, T0) is None  # no model loaded yet


def test_the_window_is_read_once_per_check_interval(
    engine: Engine, settings: OpsSettings, reference: DriftReference
) -> None:
    drift = rule(("3", reference.to_dict()))
    assert check(engine, settings, drift, T0) is None  # nothing yet
    predict(engine, negative_tweet_scores(np.random.default_rng(5), 300), T0 - timedelta(hours=0.5))
    assert check(engine, settings, drift, T0 + timedelta(seconds=30)) is None  # not read
    assert check(engine, settings, drift, T0 + timedelta(seconds=60)) is not None
