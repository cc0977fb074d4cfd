from __future__ import annotations

import json
from pathlib import Path

import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from badbuzz.bundle.archive import pack, unpack
from badbuzz.bundle.manifest import MANIFEST
from badbuzz.bundle.model import ModelBundle
from badbuzz.errors import BundleError
from badbuzz.text import NormalizationConfig, normalize_many
from training.export.sklearn_bundle import write_sklearn_bundle

TEXTS = ["i love this airline", "great crew thanks", "they lost my bag", "worst delay ever"] * 5
LABELS = [1, 1, 0, 0] * 5


@pytest.fixture
def bundle_dir(tmp_path: Path) -> Path:
    config = NormalizationConfig(stemming="snowball")
    pipeline = Pipeline([("features", TfidfVectorizer()), ("clf", LogisticRegression())])
    pipeline.fit(normalize_many(TEXTS, config), LABELS)
    return write_sklearn_bundle(
        tmp_path / "bundle", pipeline, config, 0.5, {"model_family": "logistic_regression"}
    )


def test_bundle_scores_raw_text_with_its_own_normalisation(bundle_dir: Path) -> None:
    bundle = ModelBundle.load(bundle_dir)
    assert bundle.normalization.stemming == "snowball"
    p = bundle.predict_proba(["LOVED this airline!!", "they LOST my bags"])
    assert p[0] > 0.5 > p[1]
    assert bundle.predict(["LOVED this airline!!", "they LOST my bags"]) == [
        "positive",
        "negative",
    ]
    assert bundle.metadata["model_family"] == "logistic_regression"


def test_tampered_or_incomplete_bundles_are_refused(bundle_dir: Path) -> None:
    (bundle_dir / "model.joblib").write_bytes(b"not a model")
    with pytest.raises(BundleError, match="does not match its manifest hash"):
        ModelBundle.load(bundle_dir)
    (bundle_dir / "model.joblib").unlink()
    with pytest.raises(BundleError, match=r"model\.joblib is missing"):
        ModelBundle.load(bundle_dir)
    (bundle_dir / MANIFEST).unlink()
    with pytest.raises(BundleError, match="not a model bundle"):
        ModelBundle.load(bundle_dir)


def test_newer_format_is_refused_with_upgrade_hint(bundle_dir: Path) -> None:
    manifest = json.loads((bundle_dir / MANIFEST).read_text())
    manifest["format_version"] = 99
    (bundle_dir / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="upgrade badbuzz"):
        ModelBundle.load(bundle_dir)


def test_archive_round_trip(bundle_dir: Path, tmp_path: Path) -> None:
    archive = pack(bundle_dir, tmp_path / "bundle.tar.gz")
    restored = ModelBundle.load(unpack(archive, tmp_path / "restored"))
    original = ModelBundle.load(bundle_dir)
    assert restored.predict_proba(TEXTS).tolist() == original.predict_proba(TEXTS).tolist()
