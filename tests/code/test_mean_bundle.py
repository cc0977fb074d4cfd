"""The `mean` runtime (badbuzz/bundle/runtimes/mean.py): an ensemble bundle averages its
member bundles, each normalising raw tweets its own way, and its hashes and signature vouch
for every member file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from badbuzz.bundle.archive import pack, unpack
from badbuzz.bundle.manifest import MANIFEST, Manifest
from badbuzz.bundle.model import ModelBundle, RuntimeOptions
from badbuzz.bundle.runtimes.mean import MEMBERS_FOLDER, write_members_file
from badbuzz.bundle.signing import SignaturePolicy, load_signing_key, sign_bundle
from badbuzz.errors import BundleError
from badbuzz.text import NormalizationConfig, normalize_many
from tests.conftest import BundleKeys
from training.export.sklearn_bundle import write_sklearn_bundle

TEXTS = ["i LOVE this airline", "great crew thanks", "they lost my bag", "worst delay ever"] * 5
LABELS = [1, 1, 0, 0] * 5
TWEETS = ["LOVED this airline!!", "they LOST my bags", "the crew was ok"]
STEMMED = NormalizationConfig(stemming="snowball")
CASED = NormalizationConfig(lowercase=False)


def member(directory: Path, vectorizer: object, config: NormalizationConfig) -> Path:
    pipeline = Pipeline([("features", vectorizer), ("clf", LogisticRegression())])
    pipeline.fit(normalize_many(TEXTS, config), LABELS)
    return write_sklearn_bundle(directory, pipeline, config, 0.5)


def ensemble(directory: Path, members: list[str] | None = None) -> Path:
    folders = members or [f"{MEMBERS_FOLDER}/tfidf", f"{MEMBERS_FOLDER}/counts"]
    member(directory / folders[0], TfidfVectorizer(), STEMMED)
    if len(folders) > 1:
        member(directory / folders[1], CountVectorizer(lowercase=False), CASED)
    Manifest(
        runtime="mean",
        model_file=write_members_file(directory, folders),
        normalization=None,
        threshold=0.6,
    ).write(directory)
    return directory


def test_an_ensemble_scores_the_mean_of_its_members_each_normalising_its_own_way(
    tmp_path: Path,
) -> None:
    bundle = ModelBundle.load(ensemble(tmp_path / "bundle"))
    members = [
        ModelBundle.load(tmp_path / "bundle" / MEMBERS_FOLDER / name)
        for name in ("tfidf", "counts")
    ]
    expected = np.mean([m.predict_proba(TWEETS) for m in members], axis=0)
    np.testing.assert_allclose(bundle.predict_proba(TWEETS), expected, rtol=1e-12)
    assert bundle.scorer.runtime == "mean(sklearn, sklearn)"
    assert bundle.threshold == 0.6
    assert bundle.predict(TWEETS[:2]) == ["positive", "negative"]
    # the ensemble's manifest hashes every member file, by its path inside the bundle
    files = Manifest.read(tmp_path / "bundle").files
    assert f"{MEMBERS_FOLDER}/counts/model.joblib" in files
    assert f"{MEMBERS_FOLDER}/tfidf/{MANIFEST}" in files


def test_a_changed_member_file_is_refused_before_anything_is_unpickled(tmp_path: Path) -> None:
    directory = ensemble(tmp_path / "bundle")
    (directory / MEMBERS_FOLDER / "counts" / "model.joblib").write_bytes(b"not a model")
    with pytest.raises(BundleError, match=r"counts/model\.joblib does not match"):
        ModelBundle.load(directory)


def test_the_ensembles_signature_covers_its_members(
    tmp_path: Path, bundle_keys: BundleKeys
) -> None:
    directory = ensemble(tmp_path / "bundle")
    sign_bundle(directory, load_signing_key(bundle_keys.signing))
    options = RuntimeOptions(signatures=SignaturePolicy.from_key_file(bundle_keys.verify, True))
    unpacked = unpack(pack(directory, tmp_path / "b.tar.gz"), tmp_path / "unpacked")
    assert ModelBundle.load(unpacked, options).predict(TWEETS[:1]) == ["positive"]
    # a member's manifest rewritten (its own hashes right) breaks the ensemble's hashes
    tfidf = unpacked / MEMBERS_FOLDER / "tfidf"
    changed = Manifest.read(tfidf)
    changed.normalization = NormalizationConfig().to_dict()
    changed.write(tfidf)
    with pytest.raises(BundleError, match=f"tfidf/{MANIFEST} does not match"):
        ModelBundle.load(unpacked, options)


@pytest.mark.parametrize(
    ("members", "message"),
    [
        (["../outside"], "not a plain relative path"),
        ([], "at least one member"),
    ],
)
def test_member_folders_stay_inside_the_bundle(
    tmp_path: Path, members: list[str], message: str
) -> None:
    directory = ensemble(tmp_path / "bundle")
    (directory / "ensemble.json").write_text(json.dumps({"members": members}))
    Manifest.read(directory).write(directory)
    with pytest.raises(BundleError, match=message):
        ModelBundle.load(directory)


def test_an_ensemble_of_ensembles_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "outer"
    ensemble(directory / MEMBERS_FOLDER / "inner")
    Manifest(
        runtime="mean",
        model_file=write_members_file(directory, [f"{MEMBERS_FOLDER}/inner"]),
        normalization=None,
    ).write(directory)
    with pytest.raises(BundleError, match="itself an ensemble"):
        ModelBundle.load(directory)
