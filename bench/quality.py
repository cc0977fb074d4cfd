"""Quality of every model family, trained on the shared Sentiment140 subset, in one table:
held-out split and the 359-tweet manual test set, at each model's decision threshold (chosen
on validation) and at 0.5; then the champion `badbuzz promote` would pick (goals: best
classical and best LSTM/BiLSTM >= 0.82 manual accuracy; champion >= 0.84 manual accuracy and
>= 0.88 manual positive precision at its threshold).

Runs go to a throw-away embedded MLflow store unless BADBUZZ_HOME / MLFLOW_TRACKING_URI
say otherwise.

    python -m bench.quality [--models nb,logreg,...] [--networks lstm,bilstm] [--sample N]
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
from pathlib import Path

from badbuzz.metric_names import AT_DEFAULT_THRESHOLD, DEFAULT_FLOOR, FLOOR_METRIC, KPI
from badbuzz.registry import configure_tracking
from badbuzz.settings import TrainingSettings
from training.classical.fit import TrainConfig, train_models
from training.classical.pipelines import MODELS
from training.data.prepared import prepare_data
from training.tracking.runs import TrainedModel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--networks", default="lstm,bilstm", help="'' to skip the networks")
    parser.add_argument("--sample", type=int, default=None)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("mlflow").setLevel(logging.ERROR)

    with tempfile.TemporaryDirectory() as tmp:
        settings = TrainingSettings(home=Path(os.environ.get("BADBUZZ_HOME", tmp)))
        target = configure_tracking(settings)
        data = prepare_data(settings, None, None, args.sample, args.seed)
        config = TrainConfig(models=tuple(args.models.split(",")), seed=args.seed, register=False)
        results = train_models(config, data, settings, target)
        if args.networks:
            from training.networks.fit import DeepConfig, train_networks

            architectures = tuple(args.networks.split(","))
            deep = DeepConfig(architectures=architectures, seed=args.seed, register=False)  # type: ignore[arg-type]
            results += train_networks(deep, data, settings, target)

    print(
        f"\nTrained on {len(data.split.train):,} tweets of {data.source}; "
        f"held-out test {len(data.split.test):,}, manual test {len(data.manual_binary)}."
    )
    print(
        "thr: threshold chosen on validation; figures at it, and at 0.5 where said. "
        "pos prec: positive precision (the KPI); neg rec: negative recall "
        "(badbuzz/metric_names.py).\n"
    )
    print_table(results)
    print_champion(results)


def print_table(results: list[TrainedModel]) -> None:
    """Every model's figures as a markdown table, the best on the manual test set first."""
    header = (
        "model",
        "embedding",
        "thr",
        "held-out acc",
        "held-out pos prec",
        "held-out pos recall",
        "manual acc",
        "manual pos prec",
        "manual neg rec",
        "manual acc @0.5",
        "manual pos prec @0.5",
        "manual neg rec @0.5",
        "seconds",
    )
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    at_half = AT_DEFAULT_THRESHOLD
    for r in sorted(results, key=lambda r: r.manual["accuracy"], reverse=True):
        row = (
            r.name,
            r.embedding_type,
            f"{r.threshold:.3f}",
            f"{r.test['accuracy']:.3f}",
            f"{r.test[KPI]:.3f}",
            f"{r.test[FLOOR_METRIC]:.3f}",
            f"{r.manual['accuracy']:.3f}",
            f"{r.manual[KPI]:.3f}",
            f"{r.manual['negative_recall']:.3f}",
            f"{r.manual['accuracy' + at_half]:.3f}",
            f"{r.manual[KPI + at_half]:.3f}",
            f"{r.manual['negative_recall' + at_half]:.3f}",
            f"{r.seconds:.0f}",
        )
        print("| " + " | ".join(row) + " |")


def print_champion(results: list[TrainedModel]) -> None:
    """The best held-out KPI among the models that keep the floor: its manual-test figures."""
    at_half = AT_DEFAULT_THRESHOLD
    eligible = [r for r in results if r.test[FLOOR_METRIC] >= DEFAULT_FLOOR]
    if not eligible:
        print(f"\nNo model keeps the floor {FLOOR_METRIC} >= {DEFAULT_FLOOR}: no champion.")
        return
    champion = max(eligible, key=lambda r: r.test[KPI])
    print(
        f"\nChampion by held-out {KPI} ({FLOOR_METRIC} >= {DEFAULT_FLOOR}): "
        f"{champion.name} + {champion.embedding_type}, on the manual test set:"
    )
    for label, suffix in ((f"threshold {champion.threshold:.3f}", ""), ("threshold 0.5", at_half)):
        m = champion.manual
        print(
            f"  at {label}: accuracy {m['accuracy' + suffix]:.3f}, positive precision "
            f"{m[KPI + suffix]:.3f}, negative recall {m['negative_recall' + suffix]:.3f}"
        )


if __name__ == "__main__":
    main()
