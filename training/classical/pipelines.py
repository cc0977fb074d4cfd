"""The classical model family: vectoriser -> classifier pipelines and their search spaces.

Pipelines score *normalised* text (see `badbuzz.text`): normalisation runs
once per dataset, outside the pipeline, and again at serving from the
bundle's settings, so the pickled pipeline holds only library classes and the core's
lexicon estimators (`badbuzz.bundle.runtimes.sklearn_lexicon`): the serving image has no
`training/` to unpickle a class from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline

from badbuzz.bundle.runtimes.sklearn_lexicon import LexiconClassifier, VaderFeatures
from badbuzz.text import RAW_TEXT, NormalizationConfig

Vectorizer = Literal["bow", "tfidf"]


@dataclass(frozen=True)
class ModelSpec:
    name: str
    model_family: str
    build: Callable[[int], Any]  # seed -> unfitted classifier
    param_grid: dict[str, list[Any]]  # over the "clf__" step
    max_features: int | None = None  # trees: a smaller vocabulary keeps them tractable
    lexicon: bool = False
    takes_negative_features: bool = True  # multinomial NB needs counts, not VADER scores


def _naive_bayes(seed: int) -> Any:
    from sklearn.naive_bayes import MultinomialNB

    return MultinomialNB()


def _logistic_regression(seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=2000, solver="liblinear", random_state=seed)


def _linear_svm(seed: int) -> Any:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.svm import LinearSVC

    return CalibratedClassifierCV(LinearSVC(random_state=seed), cv=3, method="sigmoid")


def _random_forest(seed: int) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(
        n_estimators=100, min_samples_leaf=2, n_jobs=-1, random_state=seed
    )


def _lightgbm(seed: int) -> Any:
    from lightgbm import LGBMClassifier

    return LGBMClassifier(
        n_estimators=300, learning_rate=0.1, num_leaves=63, random_state=seed, verbose=-1
    )


def _xgboost(seed: int) -> Any:
    from xgboost import XGBClassifier

    return XGBClassifier(
        n_estimators=300, learning_rate=0.1, max_depth=6, tree_method="hist", random_state=seed
    )


def _lexicon(name: str) -> Callable[[int], Any]:
    return lambda seed: LexiconClassifier(name)


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "nb",
            "naive_bayes",
            _naive_bayes,
            {"clf__alpha": [0.3, 1.0]},
            takes_negative_features=False,
        ),
        ModelSpec("logreg", "logistic_regression", _logistic_regression, {"clf__C": [0.5, 1, 3]}),
        ModelSpec("svm", "linear_svm", _linear_svm, {"clf__estimator__C": [0.05, 0.2]}),
        ModelSpec("rf", "random_forest", _random_forest, {"clf__max_features": ["sqrt"]}, 20_000),
        ModelSpec("lgbm", "lightgbm", _lightgbm, {"clf__num_leaves": [31, 63]}, 20_000),
        ModelSpec("xgb", "xgboost", _xgboost, {"clf__max_depth": [6]}, 20_000),
        ModelSpec("vader", "vader", _lexicon("vader"), {}, lexicon=True),
        ModelSpec("textblob", "textblob", _lexicon("textblob"), {}, lexicon=True),
    )
}


def build_vectorizer(
    kind: Vectorizer,
    ngram_max: int,
    char_ngrams: bool,
    max_features: int | None,
    lexicon_features: bool = False,
) -> Any:
    """Word n-grams over whitespace tokens, optionally with char n-grams and VADER scores
    beside them."""
    options: dict[str, Any] = {
        "tokenizer": str.split,
        "token_pattern": None,
        "lowercase": False,  # normalisation decides case
        "ngram_range": (1, ngram_max),
        "min_df": 2,
        "max_features": max_features,
        "dtype": np.float32,
    }
    if kind == "tfidf":
        words = TfidfVectorizer(sublinear_tf=True, **options)
    else:
        words = CountVectorizer(binary=True, **options)
    blocks: list[tuple[str, Any]] = [("words", words)]
    if lexicon_features:
        blocks.append(("lexicon", VaderFeatures()))
    if char_ngrams:
        blocks.append(("chars", _char_vectorizer(kind, max_features)))
    return words if len(blocks) == 1 else FeatureUnion(blocks)


def _char_vectorizer(kind: Vectorizer, max_features: int | None) -> Any:
    char_cls = TfidfVectorizer if kind == "tfidf" else CountVectorizer
    extra = {"sublinear_tf": True} if kind == "tfidf" else {"binary": True}
    return char_cls(
        analyzer="char_wb",
        ngram_range=(2, 5),
        min_df=3,
        lowercase=False,
        max_features=max_features or 300_000,
        dtype=np.float32,
        **extra,
    )


def build_pipeline(
    spec: ModelSpec,
    vectorizer: Vectorizer,
    ngram_max: int,
    char_ngrams: bool,
    lexicon_features: bool,
    seed: int,
) -> Pipeline:
    if spec.lexicon:
        return Pipeline([("clf", spec.build(seed))])
    features = build_vectorizer(
        vectorizer,
        ngram_max,
        char_ngrams,
        spec.max_features,
        lexicon_features and spec.takes_negative_features,
    )
    return Pipeline([("features", features), ("clf", spec.build(seed))])


def embedding_type(spec: ModelSpec, vectorizer: Vectorizer) -> str:
    return "lexicon" if spec.lexicon else vectorizer


def normalization_for(spec: ModelSpec, config: NormalizationConfig) -> NormalizationConfig:
    """Lexicons read raw text; everything else reads the configured normalisation."""
    return RAW_TEXT if spec.lexicon else config
