"""`badbuzz retrain` for any champion family (issue 18): with the default recipe the
challenger is an ensemble (a logistic head on the frozen MiniLM's embeddings, an ONNX bundle,
and TF-IDF + logistic regression, averaged), whether the champion is a lexicon or a classical
model; the gate promotes it when it is better on the
later verdicts, and the API serves it. Refitting a champion's own recipe stays an option, and
says what to do for a family that has none. Small: a champion of 2,000 Sentiment140 tweets,
challengers of 6,000, 600 verdicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.api.support import MODEL, start_api
from tests.neutral_tweets import QUESTIONS, tweets

from .support import Cli
from .test_retrain import registry, version_tags
from .travel import store_neutral_verdicts, store_verdicts, travel_tweets

pytestmark = pytest.mark.integration


def judged_travel(sentiment140: Path, home: Path) -> None:
    """80 questions said to be neutral, then 600 travel tweets judged against their true
    labels, in the API's default database."""
    from ops.database import connect

    engine = connect(f"sqlite:///{home / 'badbuzz.db'}")
    store_neutral_verdicts(engine, tweets(QUESTIONS, 80))
    store_verdicts(engine, travel_tweets(sentiment140))
    engine.dispose()


def test_lexicon_and_classical_champions_retrain_into_the_ensemble(
    sentiment140: Path, tmp_path: Path
) -> None:
    cli = Cli(tmp_path / "home", sentiment140)
    trained = cli("train", "baseline", "--models", "logreg,vader", "--sample", "2000")
    assert trained.returncode == 0, cli.explain(trained)
    versions = {
        str(v.version): dict(v.tags)["model_family"]
        for v in registry(cli).search_model_versions(f"name='{MODEL}'")
    }
    lexicon = next(v for v, family in versions.items() if family == "vader")
    classical = next(v for v, family in versions.items() if family == "logistic_regression")
    registry(cli).set_registered_model_alias(MODEL, "champion", lexicon)
    judged_travel(sentiment140, cli.home)

    # a lexicon champion: the default recipe, registered, better on the later verdicts. Its
    # default weight (20) was measured with 25,000 Sentiment140 tweets: with 4,800 here, the
    # 420 verdicts weigh 5 (at 20 they outweigh Sentiment140 and the manual set loses 7
    # points); a gate of 180 verdicts measures the gain within about +-8 points: at 80 %
    retrain = ("retrain", "--sample", "6000", "--feedback-weight", "5")
    result = cli(*retrain, "--confidence", "0.8")
    assert result.returncode == 0, cli.explain(result)
    out = " ".join(result.stdout.split())
    assert "(vader) vs challenger (3, ensemble: --recipe ensemble, verdicts weighing 5" in out
    assert "Gate: promoted:" in out and f"@champion -> version 3 (was {lexicon})" in out, out
    assert "Neutral head: fitted on 680 verdicts (80 neutral)" in out, out
    tags, champion = version_tags(cli)
    assert champion == "3"
    assert tags["3"]["model_family"] == "ensemble"
    assert tags["3"]["embedding_type"] == "minilm-mean+tfidf"
    assert tags["3"]["retrain_recipe"] == "ensemble"
    assert tags["3"]["challenged_version"] == lexicon
    exported = cli("export", "--out", str(tmp_path / "v3"), "--model-uri", f"models:/{MODEL}/3")
    assert exported.returncode == 0, cli.explain(exported)
    top = min((tmp_path / "v3").rglob("manifest.json"), key=lambda path: len(path.parts))
    manifest = json.loads(top.read_text())  # the ensemble's, above its members' manifests
    assert manifest["runtime"] == "mean"
    assert manifest["neutral_head"] == "neutral" and manifest["neutral_band"] is None
    api = start_api(cli.home, tmp_path / "api", {"BADBUZZ_MODEL_ALIAS": "champion"})
    try:
        answer = api.client().post("/predict", json={"text": "my flight got cancelled"}).json()
        assert answer["model"]["version"] == "3", answer
        assert answer["label"] == "negative", answer
        question = "is there wifi on flight 977 to portland?"  # not one of the verdicts
        answer = api.client().post("/predict", json={"text": question}).json()
        assert answer["label"] == "neutral", answer
    finally:
        api.stop()

    # the ensemble champion's own recipe cannot be refitted: one error line, exit 2
    refit = cli("retrain", "--recipe", "champion", "--dry-run")
    assert refit.returncode == 2, cli.explain(refit)
    assert "its recipe cannot be refitted" in " ".join(refit.stderr.split())

    # a classical champion: the default recipe, and the TF-IDF one (Sentiment140's
    # embeddings come from the cache the first retrain filled)
    registry(cli).set_registered_model_alias(MODEL, "champion", classical)
    for recipe, family in (("encoder", "encoder_logreg"), ("tfidf_logreg", "logistic_regression")):
        dry = cli(*retrain, "--recipe", recipe, "--dry-run")
        assert dry.returncode == 0, cli.explain(dry)
        out = " ".join(dry.stdout.split())
        assert f"(logistic_regression) vs challenger (dry run, {family}" in out, out
        assert "Dry run: nothing was logged, registered or promoted." in out
    assert sorted(version_tags(cli)[0]) == sorted([*versions, "3"])
