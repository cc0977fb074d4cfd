"""Which recipe fits `badbuzz retrain`'s challenger (`--recipe`), and its defaults: the
measured best on real airline verdicts (`python -m bench.client_domain`, README "Retraining
from feedback").

- `ensemble` (the default): the mean P(positive) of the next two, each refitted on
  Sentiment140 plus the weighted verdicts, whatever the champion's family (a lexicon, a
  network or a transformer champion included). The challenger is a `mean` bundle of an
  `encoder_logreg` ONNX bundle and a scikit-learn one.
- `encoder`: the frozen MiniLM encoder's embeddings with a logistic head. The challenger is
  an `encoder_logreg` ONNX bundle.
- `tfidf_logreg`: TF-IDF word 1-2-grams with VADER scores and a logistic regression,
  whatever the champion's family.
- `champion`: the champion's own recipe refitted (classical champions only), as retrain did
  before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Literal, get_args

from training.feedback.fitting import ChallengerRecipe

RecipeName = Literal["ensemble", "encoder", "tfidf_logreg", "champion"]
RECIPES: tuple[str, ...] = get_args(RecipeName)
DEFAULT_RECIPE: RecipeName = "ensemble"
# Measured best weights of a verdict (a Sentiment140 tweet weighs 1), per recipe
# (champion: 5, as before; 20 measured +0.003 later accuracy, -0.005 manual, within noise)
DEFAULT_WEIGHTS: dict[str, float] = {
    "ensemble": 20.0,
    "encoder": 20.0,
    "tfidf_logreg": 20.0,
    "champion": 5.0,
}
# Sentiment140 tweets (split included) of a recipe that is not the champion's, unless --sample
DEFAULT_SAMPLE = 25_000
DEFAULT_SEED = 42


def build_recipe(
    name: RecipeName,
    champion_version: str,
    champion_params: Mapping[str, str],
    champion_tags: Mapping[str, str],
    embeddings_dir: Path,
) -> ChallengerRecipe:
    """The recipe `name`; `champion` reads the champion's run (UnsupportedChampion, exit 2,
    for a family whose recipe cannot be refitted)."""
    from training.feedback.recipe import champion_recipe, tfidf_logreg_recipe

    weight = DEFAULT_WEIGHTS[name]
    if name == "champion":
        recipe = champion_recipe(champion_version, champion_params, champion_tags)
        return replace(recipe, weight=weight)
    if name == "tfidf_logreg":
        return tfidf_logreg_recipe(DEFAULT_SEED, weight)
    from training.encoder.head import EncoderConfig
    from training.feedback.encoder_recipe import EncoderRecipe

    if name == "encoder":
        return EncoderRecipe(embeddings_dir, EncoderConfig(seed=DEFAULT_SEED), weight)
    from training.feedback.ensemble_recipe import ensemble_recipe

    return ensemble_recipe(embeddings_dir, EncoderConfig(seed=DEFAULT_SEED), weight)
