"""The champion's recipe, read back from its MLflow run: which classical model, which
features, which normalisation, the hyper-parameters its CV search chose, the seed and how
many Sentiment140 tweets it was trained on. A challenger is trained with the same recipe, so
that what changes between the two is the feedback, not the model.

Supported: the classical families of `badbuzz train baseline` (nb, logreg, svm, rf, lgbm,
xgb). A lexicon learns nothing from labelled tweets; networks and transformers are not
supported yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, cast

from badbuzz.errors import UserError
from badbuzz.text import NormalizationConfig
from training.classical.pipelines import MODELS, ModelSpec, Vectorizer, build_pipeline

CLASSICAL = tuple(name for name, spec in MODELS.items() if not spec.lexicon)


class UnsupportedChampion(UserError):
    """The champion's family (or its run) cannot be retrained from feedback."""


@dataclass(frozen=True)
class Recipe:
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

    def params(self) -> dict[str, Any]:
        """What the challenger's run logs of the recipe, named as `badbuzz train` names it."""
        return {
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
            f"the champion (version {version}) is a {family} model: retraining it from "
            f"feedback is not supported yet (supported: {', '.join(CLASSICAL)}, trained by "
            "`badbuzz train baseline`)"
        )
    if spec.lexicon:
        raise UnsupportedChampion(
            f"the champion (version {version}) is the {name} lexicon, which learns nothing "
            f"from labelled tweets: promote a trained model first ({', '.join(CLASSICAL)})"
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
