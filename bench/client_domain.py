"""Which retrain recipe learns the client best from its verdicts, on real airline tweets.

The airline-dev export's negative and positive tweets in time order: the first N (250, 500,
1,000, 2,000) are the client's verdicts, the tweets of the later days (from the day after the
last verdict of the largest N: 2015-02-21 to 24, UTC) are the test, the same for every N;
Sentiment140's manual set alongside. Each recipe of `badbuzz retrain --recipe`
(`training/feedback/recipes.py`) is run as retrain runs it, in process and without MLflow:
fitted on a Sentiment140 sample's training split plus the N verdicts weighted w, its threshold
chosen by `choose_client_threshold` on out-of-fold scores of the verdicts and the validation
split (N = 0: the training rule on validation alone, the model out of the box), scored on
the test tweets. Recipes:

- `champion`: today's default champion of bench.client (SVM + VADER features on TF-IDF, its C
  chosen by the CV search of `badbuzz train baseline`), refitted;
- `tfidf_logreg`: TF-IDF + VADER + logistic regression (C=1);
- `encoder`: the frozen MiniLM's embeddings (mean-pooled) with a logistic head; embeddings
  are cached per tweet under `--cache` (Sentiment140's 125k: about 10 min on 2 cores, once);
- `ensemble`: the mean P(positive) of `encoder` and `tfidf_logreg`, each fitted as above;
  `encoder` and `ensemble` with `--encoder-sample` also on a larger Sentiment140 sample.

Weights `--weights` are tried at 1,000 verdicts; every other N is run at the recipe's default
weight in `badbuzz retrain` (`DEFAULT_WEIGHTS`, chosen from this table). Prints one table
(Markdown rows): the recipe, Sentiment140 tweets, verdicts N, weight w, the threshold, the
test days' accuracy, negative recall and positive precision, the manual set's accuracy; the
neutral tweets of the test days called negative (neu->neg); the neutral band training would
choose (`choose_neutral_band`) on the three labels of the days before the test (N > 0: some
of them were fitted on), and on the test days with it the neutral tweets still called
negative and the negatives it calls neutral; the same two with the neutral head retrain fits
(`training/feedback/neutral_head.py`, its budget `--budget`) on the N verdicts and the neutral
tweets among them (`NeutralHeads`); the seconds of the fit, out-of-fold threshold, scoring
and band.

    python -m bench.client_domain [--sample 25000] [--encoder-sample 125482] \
        [--weights 1,5,10,20,50] [--counts 250,500,1000,2000] [--cache /tmp/badbuzz-embeddings] \
        [--recipes champion,tfidf_logreg,encoder,ensemble] [--budget 0.12]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from badbuzz.metric_names import NEUTRAL_CALLED_NEGATIVE
from bench.airline import MANUAL, SENTIMENT140, airline_tweets
from training.classical.search import search_best_params
from training.data.sentiment140 import read_sentiment140
from training.data.split import Split, split_dataset, stratified_sample
from training.encoder.head import EncoderConfig
from training.evaluation.metrics import evaluate_scores
from training.evaluation.neutral import NEGATIVES_CALLED_NEUTRAL, band_metrics, choose_neutral_band
from training.evaluation.thresholds import choose_client_threshold, choose_threshold
from training.feedback.encoder_recipe import EncoderRecipe
from training.feedback.ensemble_recipe import ensemble_recipe
from training.feedback.fitting import (
    ChallengerRecipe,
    Features,
    enough_for_threshold,
    out_of_fold_scores,
)
from training.feedback.neutral_head import DEFAULT_MAX_NEGATIVES_LOST, NeutralHead
from training.feedback.recipe import Recipe, tfidf_logreg_recipe
from training.feedback.recipes import DEFAULT_SEED, DEFAULT_WEIGHTS

SEED = DEFAULT_SEED
log = logging.getLogger(__name__)
COLUMNS = (
    "recipe", "S140", "N", "w", "thr", "acc", "neg rec", "pos prec", "man acc",
    "neu->neg", "band", "neu->neg band", "neg->neu", "neu->neg head", "neg->neu head", "s",
)  # fmt: skip


@dataclass
class NeutralHeads:
    """The neutral head retrain fits after N verdicts, fitted once per N (it does not depend
    on the binary recipe): on the first N negative and positive verdicts and the neutral
    tweets among them (those posted up to the N-th verdict's tweet, which users judged too),
    scored on the test days."""

    head: NeutralHead
    verdicts: pd.DataFrame  # text, label, created: oldest first
    neutral: pd.DataFrame  # the neutral tweets of the verdicts' days, with their times
    test: list[str]
    neutral_later: list[str]
    _called: dict[int, tuple[np.ndarray, np.ndarray] | None] = field(default_factory=dict)

    def called(self, count: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Which test tweets, and which neutral tweets of the test days, the head fitted on
        `count` verdicts calls neutral; None: no head (too few neutral verdicts)."""
        if count not in self._called:
            last = self.verdicts["created"].iloc[count - 1]
            neutral = self.neutral[self.neutral["created"] <= last]
            texts = self.verdicts["text"].iloc[:count].tolist() + neutral["text"].tolist()
            labels = np.r_[self.verdicts["label"].to_numpy()[:count], neutral["label"]]
            fitted = self.head.fit(texts, labels)
            log.warning("neutral head at N=%d: %d neutral verdicts", count, len(neutral))
            self._called[count] = (
                None
                if fitted is None
                else (
                    self.head.score(fitted, self.test) >= fitted.cut,
                    self.head.score(fitted, self.neutral_later) >= fitted.cut,
                )
            )
        return self._called[count]


@dataclass(frozen=True)
class Prepared:
    """A recipe's features of everything it is fitted on or scored on, computed once."""

    recipe: ChallengerRecipe
    label: str
    base: np.ndarray
    base_labels: np.ndarray
    validation: np.ndarray
    validation_labels: np.ndarray
    verdicts: np.ndarray  # every airline tweet before the test days, oldest first
    verdict_labels: np.ndarray
    test: np.ndarray
    test_labels: np.ndarray
    manual: np.ndarray
    manual_labels: np.ndarray
    neutral_earlier: np.ndarray  # the neutral tweets of the verdicts' days
    neutral_later: np.ndarray  # the neutral tweets of the test days


def prepare(
    recipe: ChallengerRecipe,
    label: str,
    split: Split,
    verdicts: pd.DataFrame,
    test: pd.DataFrame,
    manual: pd.DataFrame,
    neutral: tuple[pd.DataFrame, pd.DataFrame],
) -> Prepared:
    def features(frame: pd.DataFrame) -> np.ndarray:
        return recipe.features(frame["text"].tolist(), progress=label)

    return Prepared(
        recipe,
        label,
        features(split.train),
        split.train["label"].to_numpy(),
        features(split.validation),
        split.validation["label"].to_numpy(),
        features(verdicts),
        verdicts["label"].to_numpy(),
        features(test),
        test["label"].to_numpy(),
        features(manual),
        manual["label"].to_numpy(),
        features(neutral[0]),
        features(neutral[1]),
    )


def run(prepared: Prepared, verdicts: int, weight: float, heads: NeutralHeads) -> dict[str, object]:
    """One retrain of the recipe on the first `verdicts` verdicts, scored on the test days."""
    started = time.perf_counter()
    recipe = prepared.recipe
    features = Features(
        prepared.base,
        prepared.base_labels,
        prepared.verdicts[:verdicts],
        prepared.verdict_labels[:verdicts],
        weight,
    )
    fitted = recipe.fit(features)
    validation = recipe.score(fitted, prepared.validation)
    if verdicts and enough_for_threshold(features.feedback_labels):
        client = out_of_fold_scores(recipe, features, SEED)
        threshold = choose_client_threshold(
            features.feedback_labels, client, prepared.validation_labels, validation
        ).threshold
    else:
        threshold = choose_threshold(prepared.validation_labels, validation)
    test_scores = recipe.score(fitted, prepared.test)
    test = evaluate_scores(prepared.test_labels, test_scores, threshold)
    manual = evaluate_scores(
        prepared.manual_labels, recipe.score(fitted, prepared.manual), threshold
    )
    return {
        "recipe": prepared.recipe.name,
        "S140": prepared.label,
        "N": verdicts,
        "w": weight if verdicts else "-",
        "thr": threshold,
        "acc": test.metrics["accuracy"],
        "neg rec": test.metrics["negative_recall"],
        "pos prec": test.metrics["positive_precision"],
        "man acc": manual.metrics["accuracy"],
        **neutral_figures(prepared, fitted, threshold, test_scores),
        **head_figures(prepared, heads.called(verdicts) if verdicts else None, threshold,
                       test_scores, recipe.score(fitted, prepared.neutral_later)),
        "s": time.perf_counter() - started,
    }  # fmt: skip


def head_figures(
    prepared: Prepared,
    called: tuple[np.ndarray, np.ndarray] | None,
    threshold: float,
    test_scores: np.ndarray,
    neutral_scores: np.ndarray,
) -> dict[str, object]:
    """With the neutral head: the test days' neutral tweets still called negative (neither
    neutral by the head nor positive by the recipe), and the negatives the head calls
    neutral."""
    if called is None:
        return {"neu->neg head": "-", "neg->neu head": "-"}
    test_neutral, later_neutral = called
    negatives = prepared.test_labels == 0
    return {
        "neu->neg head": float(np.mean(~later_neutral & (neutral_scores < threshold))),
        "neg->neu head": float(np.mean(test_neutral[negatives])),
    }


def neutral_figures(
    prepared: Prepared, fitted: object, threshold: float, test_scores: np.ndarray
) -> dict[str, object]:
    """The neutral band as training chooses it (`choose_neutral_band`), on the three labels of
    the verdicts' days, and what it does on the test days: the neutral tweets called negative
    without and with it, and the negatives it calls neutral."""
    recipe = prepared.recipe
    earlier = np.r_[
        recipe.score(fitted, prepared.verdicts), recipe.score(fitted, prepared.neutral_earlier)
    ]
    earlier_labels = np.r_[prepared.verdict_labels, np.full(len(prepared.neutral_earlier), -1)]
    band = choose_neutral_band(earlier_labels, earlier, threshold)
    later = np.r_[test_scores, recipe.score(fitted, prepared.neutral_later)]
    labels = np.r_[prepared.test_labels, np.full(len(prepared.neutral_later), -1)]
    without = float(np.mean(later[labels == -1] < threshold))
    if band is None:
        return {"neu->neg": without, "band": "-", "neu->neg band": "-", "neg->neu": "-"}
    figures = band_metrics(labels, later, threshold, band)
    return {
        "neu->neg": without,
        "band": f"{band[0]:.2f}-{band[1]:.2f}",
        "neu->neg band": figures[f"{NEUTRAL_CALLED_NEGATIVE}_with_band"],
        "neg->neu": figures[NEGATIVES_CALLED_NEUTRAL],
    }


def show(row: dict[str, object]) -> None:
    cells = [f"{row[c]:.3f}" if isinstance(row[c], float) else str(row[c]) for c in COLUMNS]
    cells[-1] = f"{float(row['s']):.0f}"  # type: ignore[arg-type]
    print(" | ".join(cells), flush=True)


def champion_recipe_of_bench(split: Split) -> Recipe:
    """SVM + VADER on TF-IDF, C chosen as `badbuzz train baseline` chooses it."""
    import mlflow

    from training.classical.pipelines import MODELS

    # the search logs its candidates as nested runs: to a throw-away store
    mlflow.set_tracking_uri(f"sqlite:///{tempfile.mkdtemp(prefix='bench-')}/mlflow.db")
    base = tfidf_logreg_recipe(SEED, 5.0)
    spec = MODELS["svm"]
    recipe = replace(base, spec=spec, hyper_parameters={}, recipe_name="champion")
    search = stratified_sample(split.train, min(20_000, len(split.train)), SEED)
    chosen = search_best_params(
        recipe.pipeline(),
        spec.param_grid,
        recipe.features(search["text"].tolist()).tolist(),
        search["label"].to_numpy(),
        "positive_average_precision",
        3,
        SEED,
    )
    return replace(recipe, hyper_parameters=chosen)


def sentiment140_split(rows: int) -> Split:
    frame = read_sentiment140(SENTIMENT140)
    if rows < len(frame):
        frame = stratified_sample(frame, rows, SEED)
    return split_dataset(frame, SEED)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=25_000, help="Sentiment140 tweets.")
    parser.add_argument("--encoder-sample", type=int, default=None, help="A second, larger one.")
    parser.add_argument("--weights", default="1,5,10,20,50")
    parser.add_argument("--counts", default="250,500,1000,2000")
    parser.add_argument("--recipes", default="champion,tfidf_logreg,encoder,ensemble")
    parser.add_argument("--encoder-c", type=float, default=1.0, help="The head's C.")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/badbuzz-embeddings"))
    parser.add_argument(
        "--budget",
        type=float,
        default=DEFAULT_MAX_NEGATIVES_LOST,
        help="The neutral head's budget (retrain's --neutral-max-negatives-lost).",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    weights = [float(w) for w in args.weights.split(",")]
    counts = [int(n) for n in args.counts.split(",")]
    names = args.recipes.split(",")

    tweets = airline_tweets()
    last_day = tweets["created"].iloc[max(counts) - 1].normalize()
    later = tweets["created"] >= last_day + pd.Timedelta(days=1)
    verdicts, test = tweets[~later].reset_index(drop=True), tweets[later].reset_index(drop=True)
    mentions = airline_tweets(keep_neutral=True)
    neutral = mentions[mentions["label"] == -1]
    test_days = neutral["created"] >= last_day + pd.Timedelta(days=1)
    neutral_parts = (neutral[~test_days], neutral[test_days])
    manual = read_sentiment140(MANUAL, keep_neutral=True)
    manual = manual[manual["label"] >= 0].reset_index(drop=True)
    print(
        f"verdicts: the first of {len(verdicts)} airline tweets "
        f"({verdicts['created'].iloc[0]:%m-%d}"
        f" to {verdicts['created'].iloc[-1]:%m-%d}); test: {len(test)} tweets of "
        f"{test['created'].iloc[0]:%m-%d} to {test['created'].iloc[-1]:%m-%d} "
        f"({1 - test['label'].mean():.1%} negative); manual: {len(manual)} tweets"
    )
    split = sentiment140_split(args.sample)
    label = f"{args.sample // 1000}k"
    recipes: list[tuple[ChallengerRecipe, str, Split]] = []
    for name in names:
        if name == "champion":
            recipes.append((champion_recipe_of_bench(split), label, split))
        elif name == "tfidf_logreg":
            recipes.append((tfidf_logreg_recipe(SEED, 5.0), label, split))
        elif name in ("encoder", "ensemble"):
            encoder = EncoderRecipe(args.cache, EncoderConfig(seed=SEED, c=args.encoder_c))
            recipe: ChallengerRecipe = encoder
            if name == "ensemble":
                recipe = ensemble_recipe(args.cache, encoder.config, 5.0)
            recipes.append((recipe, label, split))
            if args.encoder_sample:
                big = sentiment140_split(args.encoder_sample)
                recipes.append((recipe, f"{args.encoder_sample // 1000}k", big))
    heads = NeutralHeads(
        NeutralHead(EncoderRecipe(args.cache, EncoderConfig(seed=SEED)), args.budget, seed=SEED),
        verdicts,
        neutral_parts[0],
        test["text"].tolist(),
        neutral_parts[1]["text"].tolist(),
    )
    print(" | ".join(COLUMNS))
    print(" | ".join("---" for _ in COLUMNS))
    for recipe, data_label, data in recipes:
        prepared = prepare(recipe, data_label, data, verdicts, test, manual, neutral_parts)
        show(run(prepared, 0, 1.0, heads))
        at_1000 = [run(prepared, 1000, weight, heads) for weight in weights]
        for row in at_1000:
            show(row)
        for count in counts:
            if count != 1000:
                show(run(prepared, count, DEFAULT_WEIGHTS[recipe.name], heads))


if __name__ == "__main__":
    main()
