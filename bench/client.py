"""The client's domain, measured once on real airline tweets (`../shared/data/airline-dev`):

1. a champion trained on a Sentiment140 sample with the airline export as `--eval-data`
   (client_* metrics and tags), promoted;
2. `badbuzz evaluate` on the export: out-of-box accuracy on its negative and positive
   tweets, and where its neutral ones go;
3. the thresholds the rules would choose on the champion's scores of the earlier verdicts,
   judged on the later ones and on the manual test set: the validation threshold, the
   same moved by the prior-shift correction of the posterior's odds, plain accuracy on the
   client's tweets (the rule before), balanced accuracy on them, and the client rule;
4. `--verdicts` airline tweets in time order judged right or wrong against the champion's
   labels (stamped with their tweet time; a wrong `neutral` prediction names its right
   label, unless `--no-right-labels`; `--with-neutral`: the neutral tweets posted among
   them judged too, so that retrain fits a neutral head), then `badbuzz retrain --dry-run`
   (the default recipe, the ensemble of a head on the frozen MiniLM's embeddings and
   TF-IDF + logistic regression): the challenger's threshold, its neutral head, and the
   gate's decision with its interval; then the decision with `--gate-metric
   positive_precision`, and with `--recipe champion` (the champion's recipe refitted).
   `--embeddings DIR` lends retrain an embedding cache (bench.client_domain's) so that
   Sentiment140's embeddings are not computed again.

Everything goes to a throw-away BADBUZZ_HOME (or `--home`, kept).

    python -m bench.client [--sample 25000] [--models svm] [--verdicts 1000] [--embeddings DIR] \
        [--no-right-labels] [--with-neutral]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import insert

from badbuzz.bundle.model import NEUTRAL, ModelBundle
from badbuzz.metric_names import DEFAULT_FLOOR
from badbuzz.registry import download_bundle
from bench.airline import AIRLINE, SENTIMENT140, airline_tweets
from ops.database import connect, feedback, new_id
from tests.badbuzz_cli import run_badbuzz
from training.evaluation.metrics import evaluate_scores
from training.evaluation.thresholds import (
    ACCURACY_TOLERANCE,
    candidate_thresholds,
    choose_client_threshold,
    choose_threshold,
)


def badbuzz(env: dict[str, str], *args: str) -> str:
    started = time.perf_counter()
    result = run_badbuzz(*args, home=None, base_env=env, timeout=None)
    if result.returncode != 0:
        sys.exit(f"badbuzz {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    print(f"$ badbuzz {' '.join(args)}   ({time.perf_counter() - started:.0f} s)")
    return result.stdout


def plain_accuracy_threshold(labels: np.ndarray, scores: np.ndarray) -> float:
    """The rule before balanced accuracy: plain accuracy within the tolerance, recall floor,
    highest positive precision."""
    thresholds = candidate_thresholds(scores)
    called = scores[None, :] >= thresholds[:, None]
    accuracy = (called == labels.astype(bool)[None, :]).mean(axis=1)
    recall = (called & labels.astype(bool)).sum(axis=1) / labels.sum()
    precision = (called & labels.astype(bool)).sum(axis=1) / np.maximum(called.sum(axis=1), 1)
    eligible = (accuracy >= accuracy.max() - ACCURACY_TOLERANCE) & (recall >= DEFAULT_FLOOR)
    best = np.flatnonzero(eligible)[np.argmax(precision[eligible])]
    return float(thresholds[best])


def prior_shift(threshold: float, train_negatives: float, client_negatives: float) -> float:
    """The threshold on the model's scores that applies `threshold` to the posterior
    corrected for the client's prior (Saerens et al., 2002): odds scaled by the ratio of
    the priors' odds."""
    ratio = (train_negatives / (1 - train_negatives)) / (client_negatives / (1 - client_negatives))
    odds = threshold / (1 - threshold) / ratio
    return float(odds / (1 + odds))


def compare_thresholds(home: Path, verdicts: int, gate_share: float, sample: int) -> None:
    from badbuzz.settings import TrainingSettings
    from training.data.prepared import prepare_data

    os.environ["BADBUZZ_HOME"] = str(home)
    settings = TrainingSettings()
    data = prepare_data(settings, SENTIMENT140, None, sample, 42)
    with tempfile.TemporaryDirectory() as tmp:
        bundle = ModelBundle.load(download_bundle("models:/tweet-sentiment@champion", Path(tmp)))
    client = airline_tweets().head(verdicts)
    cut = len(client) - round(len(client) * gate_share)
    earlier, later = client.iloc[:cut], client.iloc[cut:]
    score = {
        name: (frame["label"].to_numpy(), bundle.predict_proba(frame["text"].tolist()))
        for name, frame in (
            ("earlier", earlier),
            ("later", later),
            ("validation", data.split.validation),
            ("manual", data.manual_binary),
        )
    }
    negatives = float(np.mean(score["earlier"][0] == 0))
    rules = {
        "validation (the champion's)": bundle.threshold,
        "prior-shift correction": prior_shift(bundle.threshold, 0.5, negatives),
        "plain accuracy on the client": plain_accuracy_threshold(*score["earlier"]),
        "balanced accuracy on the client": choose_threshold(*score["earlier"]),
        "client rule (client + validation)": choose_client_threshold(
            *score["earlier"], *score["validation"]
        ).threshold,
    }
    print(
        f"\nThresholds on the champion's scores: chosen on the {len(earlier)} earlier verdicts "
        f"({negatives:.0%} negative), judged on the {len(later)} later ones and the manual set"
    )
    print(f"{'rule':36} {'thr':>6} {'later acc':>9} {'pos prec':>8} {'pos rec':>7} {'man acc':>7}")
    for rule, threshold in rules.items():
        later_m = evaluate_scores(*score["later"], threshold).metrics
        manual_m = evaluate_scores(*score["manual"], threshold).metrics
        print(
            f"{rule:36} {threshold:6.3f} {later_m['accuracy']:9.3f} "
            f"{later_m['positive_precision']:8.3f} {later_m['positive_recall']:7.3f} "
            f"{manual_m['accuracy']:7.3f}"
        )


LABELS = {0: "negative", 1: "positive", -1: "neutral"}  # the export's, as the API names them


def judged_tweets(verdicts: int, with_neutral: bool) -> pd.DataFrame:
    """The first `verdicts` negative and positive airline tweets; `with_neutral`: and the
    neutral ones posted among them (up to the last one's time), in time order."""
    client = airline_tweets().head(verdicts)
    if not with_neutral:
        return client
    mentions = airline_tweets(keep_neutral=True)
    return mentions[mentions["created"] <= client["created"].iloc[-1]].reset_index(drop=True)


def store_verdicts(home: Path, client: pd.DataFrame, right_labels: bool) -> None:
    """`client` judged against the champion's labels, stamped with their tweet time; a wrong
    verdict on a `neutral` prediction, or on a neutral tweet, names its right label when
    `right_labels` (the user says which way it was wrong)."""
    with tempfile.TemporaryDirectory() as tmp:
        bundle = ModelBundle.load(download_bundle("models:/tweet-sentiment@champion", Path(tmp)))
    predicted = bundle.predict(client["text"].tolist())
    engine = connect(f"sqlite:///{home / 'badbuzz.db'}")
    with engine.begin() as connection:
        connection.execute(
            insert(feedback),
            [
                {"id": new_id(), "text": text, "predicted_label": label,
                 "correct": label == LABELS[truth],
                 "right_label": LABELS[truth] if right_labels and label != LABELS[truth]
                 and NEUTRAL in (label, LABELS[truth]) else None,
                 "created_at": created.to_pydatetime()}
                for text, label, truth, created in zip(
                    client["text"], predicted, client["label"], client["created"], strict=True
                )
            ],
        )  # fmt: skip
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=25_000, help="Champion's tweets.")
    parser.add_argument("--models", default="svm")
    parser.add_argument("--verdicts", type=int, default=1000)
    parser.add_argument("--home", type=Path, default=None, help="Keep the store here.")
    parser.add_argument("--embeddings", type=Path, default=None, help="An embedding cache.")
    parser.add_argument(
        "--no-right-labels",
        action="store_true",
        help="Verdicts on neutral predictions say only 'wrong', not which label was right.",
    )
    parser.add_argument(
        "--with-neutral",
        action="store_true",
        help="Verdicts on the neutral tweets posted among them too (a neutral head learns).",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        home = args.home or Path(tmp) / "home"
        env = {**os.environ, "BADBUZZ_HOME": str(home), "BADBUZZ_SENTIMENT140": str(SENTIMENT140)}
        env.pop("MLFLOW_TRACKING_URI", None)
        env.pop("BADBUZZ_DATABASE_URL", None)
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        import mlflow

        mlflow.set_tracking_uri(f"sqlite:///{home / 'mlflow' / 'mlflow.db'}")
        client = ["--label-column", "airline_sentiment"]
        print(badbuzz(env, "train", "baseline", "--models", args.models, "--sample",
                      str(args.sample), "--eval-data", str(AIRLINE), *client))  # fmt: skip
        print(badbuzz(env, "promote", "--metric", "client_accuracy"))
        print(badbuzz(env, "evaluate", "--data", str(AIRLINE), *client))
        compare_thresholds(home, args.verdicts, 0.3, args.sample)
        judged = judged_tweets(args.verdicts, args.with_neutral)
        print(f"\n{len(judged)} verdicts, {int((judged['label'] == -1).sum())} on neutral tweets")
        store_verdicts(home, judged, not args.no_right_labels)
        if args.embeddings:
            (home / "data").mkdir(parents=True, exist_ok=True)
            (home / "data" / "embeddings").symlink_to(args.embeddings.resolve())
        out = badbuzz(env, "retrain", "--dry-run")
        print(out)
        kpi = badbuzz(env, "retrain", "--dry-run", "--gate-metric", "positive_precision")
        print(kpi[kpi.index("Gate:") :])
        print(badbuzz(env, "retrain", "--dry-run", "--recipe", "champion"))


if __name__ == "__main__":
    main()
