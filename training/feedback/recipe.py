"""Classical recipes (a scikit-learn pipeline over normalised text): the champion's, read
back from its MLflow run (which model, which features, which normalisation, the
hyper-parameters its CV search chose, the seed and how many Sentiment140 tweets it was
trained on: `--recipe champion`, so that what changes is the feedback, not the model), and a
fixed TF-IDF + logistic regression (`--recipe tfidf_logreg`), whatever the champion.

The champion's recipe exists for the classical families of `badbuzz train baseline` (nb,
logreg, svm, rf, lgbm, xgb). A lexicon learns nothing from labelled tweets, and networks and
transformers are not refitted: for them, another recipe (`training/feedback/recipes.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, cast

import numpy as np

from badbuzz.errors import UserError
from badbuzz.metric_names import DEFAULT_THRESHOLD
from badbuzz.text import NormalizationConfig, normalize_many
from training.classical.pipelines import (
    MODELS,
    ModelSpec,
    Vectorizer,
    build_pipeline,
    embedding_type,
)
from training.data.sentiment140 import POSITIVE
from training.export.sklearn_bundle import write_sklearn_bundle
from training.feedback.fitting import ChallengerRecipe, Features

CLASSICAL = tuple(name for name, spec in MODELS.items() if not spec.lexicon)


class UnsupportedChampion(UserError):
    """The champion's family (or its run) cannot be retrained from feedback."""


@dataclass(frozen=True)
class Recipe(ChallengerRecipe):
    spec: ModelSpec
    vectorizer: Vectorizer
    ngram_max: int
    char_ngrams: bool
    lexicon_features: bool
    normalization: NormalizationConfig
    hyper_parameters: dict[str, Any]  # pipeline parameters ("clf__C"), as searched for it
    seed: int
    data_rows: int | None  # Sentiment140 tweets it was trained on (split included)
    data_hash: str
    recipe_name: str = "champion"
    weight: float = 5.0  # the feedback's default weight

    @property
    def name(self) -> str:
        return self.recipe_name

    @property
    def model_family(self) -> str:
        return self.spec.model_family

    @property
    def embedding_type(self) -> str:
        return embedding_type(self.spec, self.vectorizer)

    @property
    def default_weight(self) -> float:
        return self.weight

    def features(self, texts: Sequence[str], progress: str | None = None) -> np.ndarray:
        return np.array(normalize_many(texts, self.normalization), dtype=object)

    def fit(self, features: Features, feedback_rows: np.ndarray | None = None) -> Any:
        texts, labels, weights = features.training_set(feedback_rows)
        pipeline = self.pipeline()
        pipeline.fit(texts.tolist(), labels, clf__sample_weight=weights)
        return pipeline

    def score(self, fitted: Any, rows: np.ndarray) -> np.ndarray:
        positive = list(fitted.classes_).index(POSITIVE)
        return np.asarray(fitted.predict_proba(rows.tolist())[:, positive])

    def write_bundle(
        self,
        fitted: Any,
        directory: Path,
        parity_texts: Sequence[str],
        parity_labels: np.ndarray,
    ) -> Path:
        return write_sklearn_bundle(directory, fitted, self.normalization, DEFAULT_THRESHOLD)

    def params(self) -> dict[str, Any]:
        """What the challenger's run logs of the recipe, named as `badbuzz train` names it."""
        return {
            "recipe": self.recipe_name,
            "vectorizer": self.vectorizer,
            "ngram_max": self.ngram_max,
            "char_ngrams": self.char_ngrams,
            "lexicon_features": self.lexicon_features,
            "seed": self.seed,
            **{f"norm_{k}": v for k, v in self.normalization.to_dict().items()},
            **{f"best_{k.removeprefix('clf__')}": v for k, v in self.hyper_parameters.items()},
        }

    def pipeline(self) -> Any:
        """An unfitted scikit-learn pipeline of the recipe (over normalised text)."""
        pipeline = build_pipeline(
            self.spec,
            self.vectorizer,
            self.ngram_max,
            self.char_ngrams,
            self.lexicon_features,
            self.seed,
        )
        return pipeline.set_params(**self.hyper_parameters)


def champion_recipe(version: str, params: Mapping[str, str], tags: Mapping[str, str]) -> Recipe:
    """The recipe of the run behind a registered version (its params and tags)."""
    family = tags.get("model_family", "?")
    name = params.get("model")
    spec = MODELS.get(name or "")
    if spec is None or spec.model_family != family:
        raise UnsupportedChampion(
            f"the champion (version {version}) is a {family} model: its recipe cannot be "
            f"refitted (--recipe champion supports {', '.join(CLASSICAL)}, trained by "
            "`badbuzz train baseline`); retrain with the default --recipe instead"
        )
    if spec.lexicon:
        raise UnsupportedChampion(
            f"the champion (version {version}) is the {name} lexicon, which learns nothing "
            "from labelled tweets: retrain with the default --recipe instead of --recipe "
            "champion"
        )
    try:
        vectorizer = cast(Vectorizer, params["vectorizer"])
        rows = params.get("data_rows")
        return Recipe(
            spec=spec,
            vectorizer=vectorizer,
            ngram_max=int(params["ngram_max"]),
            char_ngrams=params["char_ngrams"] == "True",
            lexicon_features=params["lexicon_features"] == "True",
            normalization=_normalization(params),
            hyper_parameters=_hyper_parameters(spec, params),
            seed=int(params["seed"]),
            data_rows=int(rows) if rows else None,
            data_hash=tags.get("data_hash", ""),
        )
    except KeyError as missing:
        raise UnsupportedChampion(
            f"the run of the champion (version {version}) does not record {missing}: "
            "retrain it with `badbuzz train baseline` first"
        ) from missing


def _normalization(params: Mapping[str, str]) -> NormalizationConfig:
    defaults = NormalizationConfig()
    values: dict[str, Any] = {}
    for field in fields(NormalizationConfig):
        raw = params[f"norm_{field.name}"]
        values[field.name] = (
            raw == "True" if isinstance(getattr(defaults, field.name), bool) else raw
        )
    return NormalizationConfig.from_dict(values)


def _hyper_parameters(spec: ModelSpec, params: Mapping[str, str]) -> dict[str, Any]:
    """The grid values the champion's search chose (logged as text, `best_C`); a one-value
    grid is not searched, and its value is the one."""
    chosen: dict[str, Any] = {}
    for key, values in spec.param_grid.items():
        if len(values) == 1:
            chosen[key] = values[0]
            continue
        logged = params[f"best_{key.removeprefix('clf__')}"]
        matching = [value for value in values if str(value) == logged]
        if not matching:
            raise UnsupportedChampion(
                f"the champion's {key.removeprefix('clf__')}={logged} is not in {spec.name}'s "
                f"grid {values}: it was trained by another version of badbuzz"
            )
        chosen[key] = matching[0]
    return chosen


def tfidf_logreg_recipe(seed: int, weight: float) -> Recipe:
    """Word 1-2-grams, TF-IDF, VADER scores beside them, a logistic regression (C=1): the
    `badbuzz train baseline` defaults, whatever the champion is."""
    spec = MODELS["logreg"]
    return Recipe(
        spec=spec,
        vectorizer="tfidf",
        ngram_max=2,
        char_ngrams=False,
        lexicon_features=True,
        normalization=NormalizationConfig(),
        hyper_parameters={"clf__C": 1},
        seed=seed,
        data_rows=None,
        data_hash="",
        recipe_name="tfidf_logreg",
        weight=weight,
    )
