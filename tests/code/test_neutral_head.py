"""The neutral head (training/feedback/neutral_head.py, issue 18): a bundle of its own inside
the served bundle says which tweets are neutral, in place of the band; the binary call and
the KPI are untouched; its files are hashed and signed with the bundle's. Fitted on the
client's verdicts, it calls at most its budget of the negatives neutral, out of fold."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from badbuzz.bundle.manifest import Manifest
from badbuzz.bundle.model import NEUTRAL_HEAD_LABELS, Decision, ModelBundle
from badbuzz.errors import BundleError
from badbuzz.text import NormalizationConfig, normalize_many
from tests.neutral_tweets import COMPLAINTS, QUESTIONS, THANKS, tweets
from training.export.sklearn_bundle import write_sklearn_bundle

BINARY = ["i love this airline", "great crew thanks", "they lost my bag", "worst delay ever"] * 5
QUESTION = "what time does boarding start?"


def sklearn_bundle(directory: Path, texts: list[str], labels: list[int]) -> Path:
    config = NormalizationConfig()
    pipeline = Pipeline([("features", TfidfVectorizer()), ("clf", LogisticRegression())])
    pipeline.fit(normalize_many(texts, config), labels)
    return write_sklearn_bundle(directory, pipeline, config, 0.5)


def bundle_with_head(directory: Path) -> Path:
    """A binary bundle (band set wide) and a head that calls the questions neutral."""
    sklearn_bundle(directory, BINARY, [1, 1, 0, 0] * 5)
    texts = tweets(QUESTIONS, 20) + tweets(COMPLAINTS, 10) + tweets(THANKS, 10) + BINARY[:4]
    head = sklearn_bundle(directory / "neutral", texts, [1] * 20 + [0] * 24)
    head_manifest = Manifest.read(head)
    head_manifest.labels = dict(NEUTRAL_HEAD_LABELS)
    head_manifest.write(head)
    manifest = Manifest.read(directory)
    manifest.neutral_head = "neutral"
    manifest.neutral_band = [0.0, 1.0]  # every score: the head must take its place
    manifest.write(directory)
    return directory


def test_the_head_says_which_tweets_are_neutral_and_the_binary_call_stays(
    tmp_path: Path,
) -> None:
    bundle = ModelBundle.load(bundle_with_head(tmp_path / "bundle"))
    texts = [QUESTION, "they lost my bag again", "great crew thanks"]
    classified = bundle.classify(texts)
    assert classified.labels == ["neutral", "negative", "positive"]
    assert bundle.predict(texts) == classified.labels
    np.testing.assert_allclose(classified.p_positive, bundle.predict_proba(texts))
    binary = Decision(bundle.threshold).label_all(classified.p_positive)
    assert binary[1:] == ["negative", "positive"] and binary[0] != "neutral"


def test_a_changed_head_file_is_refused_by_the_bundles_own_hashes(tmp_path: Path) -> None:
    directory = bundle_with_head(tmp_path / "bundle")
    assert "neutral/model.joblib" in Manifest.read(directory).files
    head = directory / "neutral" / "model.joblib"
    head.write_bytes(head.read_bytes()[:-1] + b"\0")
    with pytest.raises(BundleError, match=r"neutral/model\.joblib does not match"):
        ModelBundle.load(directory)


@pytest.mark.parametrize(
    ("head", "message"),
    [("../outside", "not a plain relative path"), ("missing", "not a model bundle")],
)
def test_a_head_outside_the_bundle_or_missing_is_refused(
    tmp_path: Path, head: str, message: str
) -> None:
    directory = bundle_with_head(tmp_path / "bundle")
    manifest = Manifest.read(directory)
    manifest.neutral_head = head
    manifest.write(directory)
    with pytest.raises(BundleError, match=message):
        ModelBundle.load(directory)


def test_a_head_with_a_head_of_its_own_is_refused(tmp_path: Path) -> None:
    directory = bundle_with_head(tmp_path / "bundle")
    head = Manifest.read(directory / "neutral")
    head.neutral_head = "."
    head.write(directory / "neutral")
    Manifest.read(directory).write(directory)
    with pytest.raises(BundleError, match="a neutral head has a neutral head of its own"):
        ModelBundle.load(directory)


def client_verdicts() -> tuple[list[str], np.ndarray]:
    """60 questions (neutral), 90 complaints, 30 thanks, interleaved as verdicts arrive."""
    texts = tweets(QUESTIONS, 60) + tweets(COMPLAINTS, 90) + tweets(THANKS, 30)
    labels = np.r_[np.full(60, -1), np.zeros(90), np.ones(30)].astype(int)
    order = np.random.default_rng(3).permutation(len(texts))
    return [texts[i] for i in order], labels[order]


def test_the_fitted_head_holds_its_budget_out_of_fold_and_ships_as_it_scores(
    tmp_path: Path,
) -> None:
    from training.encoder.head import EncoderConfig
    from training.feedback.encoder_recipe import EncoderRecipe
    from training.feedback.neutral_head import NeutralHead

    head = NeutralHead(EncoderRecipe(tmp_path / "embeddings", EncoderConfig()), 0.1)
    texts, labels = client_verdicts()
    assert head.fit(texts[:40], np.where(labels[:40] == -1, 0, labels[:40])) is None
    fitted = head.fit(texts, labels)
    assert fitted is not None
    assert (fitted.rows, fitted.neutral_rows) == (180, 60)
    assert fitted.out_of_fold_negatives_lost <= 0.1
    assert fitted.out_of_fold_neutral_found > 0.8

    directory = head.write_bundle(fitted, tmp_path / "neutral", texts[:16])
    shipped = ModelBundle.load(directory)
    new = ["is there wifi on the portland flight?", "you lost my luggage in portland, awful"]
    np.testing.assert_allclose(shipped.predict_proba(new), head.score(fitted, new), atol=1e-4)
    assert shipped.threshold == fitted.cut
    assert shipped.predict(new) == ["neutral", "polar"]


def test_the_cut_spends_the_budget_only_where_it_finds_more_neutral_tweets() -> None:
    from training.feedback.neutral_head import choose_cut

    rng = np.random.default_rng(0)
    # overlapping scores: the budget binds, 10 % of the negatives are over the cut
    neutral, negatives = rng.normal(0.6, 0.15, 400), rng.normal(0.4, 0.15, 1000)
    cut = choose_cut(neutral, negatives, 0.1)
    assert 0.09 <= np.mean(negatives >= cut) <= 0.1
    # separated scores: the cut sits in the gap, calling no negative neutral
    cut = choose_cut(np.array([0.8, 0.9]), np.array([0.1, 0.2, 0.3]), 0.5)
    assert cut == pytest.approx(0.55)


def test_evaluate_reports_the_client_export_as_served_with_the_head(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cli.registry import client_report
    from training.data.client import ClientSource

    bundle = ModelBundle.load(bundle_with_head(tmp_path / "bundle"))
    texts = [QUESTION, "is there wifi on board?", "they lost my bag", "great crew thanks"]
    labels = np.array([-1, -1, 0, 1])
    source = ClientSource(tmp_path / "export.csv", "text", "airline_sentiment")
    report = client_report(source, labels, bundle.classify(texts), bundle)
    assert report["neutral_head"] is True and "neutral_band" not in report
    assert report["negatives_called_neutral"] == 0.0
    out = " ".join(capsys.readouterr().out.split())
    assert "As served, with the bundle's neutral head:" in out


def test_the_clis_budget_is_the_heads_default() -> None:
    import inspect

    from cli.retrain import retrain
    from training.feedback.challenger import RetrainConfig
    from training.feedback.neutral_head import DEFAULT_MAX_NEGATIVES_LOST

    option = inspect.signature(retrain).parameters["neutral_max_negatives_lost"]
    assert option.default == RetrainConfig().max_negatives_lost == DEFAULT_MAX_NEGATIVES_LOST
