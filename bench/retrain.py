"""`badbuzz retrain` on a domain shift built from the data we have: the champion is trained
on the Sentiment140 subset *without* its travel tweets (flight, airline, airport, plane,
luggage...; 742 of 125,482), then the travel tweets arrive as the client's feedback (each
scored by the champion, judged right or wrong against its Sentiment140 label) and the gate is
a share of them plus the manual test set. Prints retrain's before/after table and the wall
time of the `badbuzz retrain` process (imports included).

Everything goes to a throw-away BADBUZZ_HOME.

    python -m bench.retrain [--sample N] [--models logreg] [--feedback-weight 5]
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

import mlflow
from sqlalchemy import insert

from badbuzz.bundle.model import ModelBundle
from badbuzz.registry import download_bundle
from ops.database import connect, feedback, new_id, utcnow
from tests.badbuzz_cli import run_badbuzz
from tests.integration.travel import TRAVEL
from training.data.sentiment140 import LABEL_NAMES, MANUAL_TEST_FILE, read_sentiment140
from training.data.sources import locate_manual_test, locate_training


def badbuzz(env: dict[str, str], *args: str) -> tuple[str, float]:
    started = time.perf_counter()
    result = run_badbuzz(*args, home=None, base_env=env, timeout=None)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"badbuzz {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=None, help="Champion's tweets.")
    parser.add_argument("--models", default="logreg")
    parser.add_argument("--feedback-weight", default="5")
    args = parser.parse_args()

    from badbuzz.settings import TrainingSettings

    settings = TrainingSettings()
    source = locate_training(settings)
    manual = locate_manual_test(settings, source.path)
    frame = read_sentiment140(source.path, member=source.member)
    travel = frame["text"].str.contains(TRAVEL, case=False, regex=True)
    with tempfile.TemporaryDirectory() as tmp:
        home, data = Path(tmp) / "home", Path(tmp) / "data"
        data.mkdir()
        with (data / "shifted.csv").open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, quoting=csv.QUOTE_ALL, lineterminator="\n")
            kept = frame[~travel]
            for polarity, text in zip(kept["polarity"], kept["text"], strict=True):
                writer.writerow([polarity, "", "", "NO_QUERY", "", text])
        (data / MANUAL_TEST_FILE).write_bytes(manual.path.read_bytes())
        env = {
            **os.environ,
            "BADBUZZ_HOME": str(home),
            "BADBUZZ_SENTIMENT140": str(data / "shifted.csv"),
        }
        env.pop("MLFLOW_TRACKING_URI", None)
        env.pop("BADBUZZ_DATABASE_URL", None)
        sample = ["--sample", str(args.sample)] if args.sample else []
        _, train_s = badbuzz(env, "train", "baseline", "--models", args.models, *sample)
        badbuzz(env, "promote")
        print(f"champion: {args.models} on {(~travel).sum():,} non-travel tweets "
              f"({args.sample or 'all'} used), trained in {train_s:.0f} s")  # fmt: skip

        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        mlflow.set_tracking_uri(f"sqlite:///{home / 'mlflow' / 'mlflow.db'}")
        clients = frame[travel]
        bundle = ModelBundle.load(download_bundle("models:/tweet-sentiment@champion", Path(tmp)))
        predicted = bundle.predict(clients["text"].tolist())
        engine = connect(f"sqlite:///{home / 'badbuzz.db'}")
        with engine.begin() as connection:
            connection.execute(
                insert(feedback),
                [
                    {"id": new_id(), "text": text, "predicted_label": label,
                     "correct": label == LABEL_NAMES[truth], "created_at": utcnow()}
                    for text, label, truth in zip(
                        clients["text"], predicted, clients["label"], strict=True
                    )
                ],
            )  # fmt: skip
        engine.dispose()
        out, retrain_s = badbuzz(
            env, "retrain", "--recipe", "champion", "--feedback-weight", args.feedback_weight
        )
        print(out)
        print(f"badbuzz retrain: {retrain_s:.0f} s wall on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
