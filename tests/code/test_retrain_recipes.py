"""The recipes of `badbuzz retrain` (training/feedback/recipes.py): which one is the default,
which champions each accepts, how verdicts are weighted, and the per-tweet embedding cache
the encoder recipe fits its head on."""

from __future__ import annotations

import inspect
import typing
from pathlib import Path

import numpy as np
import pytest

from badbuzz.errors import UserError
from training.feedback.fitting import Features, FittingData
from training.feedback.recipe import Recipe, UnsupportedChampion
from training.feedback.recipes import DEFAULT_RECIPE, DEFAULT_WEIGHTS, RECIPES, build_recipe

LEXICON = ({"model": "vader", "data_rows": "2000"}, {"model_family": "vader"})
TRANSFORMER = ({"model": "transformer"}, {"model_family": "transformer"})


def test_the_default_recipe_is_the_ensemble_in_the_cli_too() -> None:
    from cli import retrain as cli

    signature = typing.get_type_hints(cli.retrain, include_extras=True)
    assert DEFAULT_RECIPE == "ensemble"
    assert typing.get_args(typing.get_args(signature["recipe"])[0]) == RECIPES
    assert inspect.signature(cli.retrain).parameters["recipe"].default == DEFAULT_RECIPE


@pytest.mark.parametrize(("params", "tags"), [LEXICON, TRANSFORMER])
def test_any_champion_family_gets_the_default_recipe(
    params: dict[str, str], tags: dict[str, str], tmp_path: Path
) -> None:
    recipe = build_recipe(DEFAULT_RECIPE, "3", params, tags, tmp_path)
    assert (recipe.name, recipe.model_family) == ("ensemble", "ensemble")
    assert recipe.default_weight == DEFAULT_WEIGHTS["ensemble"]
    assert recipe.onnx_threads  # an ONNX member, evaluated with threads
    encoder = build_recipe("encoder", "3", params, tags, tmp_path)
    assert (encoder.name, encoder.model_family) == ("encoder", "encoder_logreg")
    tfidf = build_recipe("tfidf_logreg", "3", params, tags, tmp_path)
    assert isinstance(tfidf, Recipe) and tfidf.model_family == "logistic_regression"


@pytest.mark.parametrize(
    ("params", "tags", "message"),
    [(*LEXICON, "learns nothing"), (*TRANSFORMER, "its recipe cannot be refitted")],
)
def test_refitting_a_lexicon_or_transformer_champions_recipe_is_a_user_error(
    params: dict[str, str], tags: dict[str, str], message: str, tmp_path: Path
) -> None:
    with pytest.raises(UnsupportedChampion, match=message) as raised:
        build_recipe("champion", "3", params, tags, tmp_path)
    assert isinstance(raised.value, UserError) and raised.value.exit_code == 2
    assert "default --recipe" in str(raised.value)


def test_verdicts_weigh_their_weight_and_folds_take_only_their_rows() -> None:
    features = Features(
        np.arange(6).reshape(3, 2), np.array([0, 1, 0]), np.arange(8).reshape(4, 2) + 100,
        np.array([1, 1, 0, 0]), 10.0,
    )  # fmt: skip
    rows, labels, weights = features.training_set(np.array([1, 3]))
    assert rows[:, 0].tolist() == [0, 2, 4, 102, 106]
    assert labels.tolist() == [0, 1, 0, 1, 0]
    assert weights.tolist() == [1, 1, 1, 10, 10]
    assert len(features.training_set()[0]) == 7


def test_the_embedding_cache_gives_the_encoders_embeddings_and_keeps_them(
    tmp_path: Path,
) -> None:
    from training.encoder.cache import EmbeddingCache, encoder_folder
    from training.encoder.head import EncoderConfig, embed
    from training.encoder.model import load_encoder
    from training.transformer.checkpoint import default_checkpoint

    checkpoint = str(default_checkpoint())
    encoder, tokenizer = load_encoder(checkpoint)
    config = EncoderConfig()
    folder = encoder_folder(tmp_path, checkpoint, config)
    texts = ["my flight was delayed again", "great crew, thanks!", "lost my bag"]
    cache = EmbeddingCache(folder, encoder, tokenizer, config)
    first = cache.embed(texts[:2])
    both = cache.embed([texts[2], texts[0], texts[2]])  # one new, repeats, another order
    direct = embed(encoder, tokenizer, texts, config)
    np.testing.assert_allclose(first, direct[:2], atol=1e-5)
    np.testing.assert_allclose(both, direct[[2, 0, 2]], atol=1e-5)
    assert len(list(folder.glob("*.npz"))) == 2  # the first call's chunk, then the new tweet's

    reread = EmbeddingCache(folder, None, None, config)  # no encoder: from disk only
    np.testing.assert_allclose(reread.embed(texts), direct, atol=1e-5)
    with pytest.raises(ValueError, match="not in the cache"):
        reread.embed(["a tweet nobody embedded"])
    other = encoder_folder(tmp_path, checkpoint, EncoderConfig(max_len=32))
    assert other != folder  # another max length embeds differently: its own folder


def test_the_ensembles_bundle_scores_as_its_fitted_members_do(tmp_path: Path) -> None:
    from badbuzz.bundle.model import ModelBundle

    recipe = build_recipe("ensemble", "3", *LEXICON, tmp_path / "embeddings")
    base = ["love this crew", "great flight thanks", "lost my bag", "delayed again ugh"] * 8
    verdicts = ["seat was fine i guess", "the gate agent was rude", "thanks for the upgrade"]
    features = recipe.prepare(
        FittingData(base, np.array([1, 1, 0, 0] * 8), verdicts, np.array([0, 0, 1]), 20.0)
    )
    fitted = recipe.fit(features)
    folds = recipe.fit(features, np.array([0, 2]))  # a fold's fit takes only its verdicts
    tweets = ["what a lovely crew!", "my bag is LOST", "delayed, again"]
    expected = recipe.score(fitted, recipe.features(tweets))
    assert not np.allclose(expected, recipe.score(folds, recipe.features(tweets)))
    directory = recipe.write_bundle(fitted, tmp_path / "bundle", base, np.zeros(len(base)))
    bundle = ModelBundle.load(directory)
    np.testing.assert_allclose(bundle.predict_proba(tweets), expected, atol=1e-4)
    assert bundle.scorer.runtime == "mean(onnxruntime, sklearn)"
    assert expected[0] > 0.5 > expected[1]
