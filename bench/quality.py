"""Quality of every model family, trained on the shared Sentiment140 subset, in one table:
held-out split and the 359-tweet manual test set (goals: best classical and best LSTM/BiLSTM
>= 0.82 accuracy).

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

from badbuzz.registry import configure_tracking
from badbuzz.settings import TrainingSettings
from training.classical.pipelines import MODELS
from training.classical.train import TrainConfig, train_models
from training.data.prepared import prepare_data


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
            from training.networks.train import DeepConfig, train_networks

            architectures = tuple(args.networks.split(","))
            deep = DeepConfig(architectures=architectures, seed=args.seed, register=False)  # type: ignore[arg-type]
            results += train_networks(deep, data, settings, target)

    print(
        f"\nTrained on {len(data.split.train):,} tweets of {data.source}; "
        f"held-out test {len(data.split.test):,}, manual test {len(data.manual_binary)}."
    )
    print("Precision, recall and buzz score: negative class (training/metrics.py).\n")
    header = (
        "model",
        "embedding",
        "held-out acc",
        "held-out prec",
        "held-out buzz",
        "manual acc",
        "manual prec",
        "manual recall",
        "manual buzz",
        "seconds",
    )
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in sorted(results, key=lambda r: r.manual["accuracy"], reverse=True):
        row = (
            r.name,
            r.embedding_type,
            f"{r.test['accuracy']:.3f}",
            f"{r.test['precision']:.3f}",
            f"{r.test['buzz_score']:.3f}",
            f"{r.manual['accuracy']:.3f}",
            f"{r.manual['precision']:.3f}",
            f"{r.manual['recall']:.3f}",
            f"{r.manual['buzz_score']:.3f}",
            f"{r.seconds:.0f}",
        )
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
