"""What an ensemble bundle costs to serve, one run on this machine: single-tweet latency
(median over the manual test set's tweets, one call each, raw text in) and the time per tweet
in batches of 64, of the ensemble and of each of its members alone, loaded as the API loads
them (ONNX sessions on `--threads` threads, 1 by default as in the image).

Without --bundle it first trains a small ensemble itself (`badbuzz train ensemble --sample
N`, into a throw-away home): latency depends on the shapes (MiniLM, the TF-IDF vocabulary),
little on what the weights learned. With --bundle, any ensemble bundle folder (e.g. `badbuzz
export --model-uri models:/tweet-sentiment@champion --out DIR`: the folder holding
manifest.json).

    python -m bench.ensemble_latency [--bundle DIR] [--sample 4000] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from badbuzz.bundle.model import ModelBundle, RuntimeOptions
from badbuzz.bundle.runtimes.mean import MeanScorer
from badbuzz.settings import TrainingSettings
from bench.airline import SENTIMENT140
from tests.badbuzz_cli import run_badbuzz
from training.data.sentiment140 import read_sentiment140
from training.data.sources import locate_manual_test

BATCH = 64


def trained_bundle(home: Path, sample: int) -> Path:
    """A small ensemble, trained and exported as `badbuzz` does it."""
    env = {"BADBUZZ_SENTIMENT140": str(SENTIMENT140.parent)}
    steps = [
        ("train", "ensemble", "--sample", str(sample)),
        ("export", "--model-uri", "models:/tweet-sentiment/1", "--out", str(home / "out")),
    ]
    for args in steps:
        done = run_badbuzz(*args, home=home, env=env, timeout=1800)
        if done.returncode != 0:
            raise SystemExit(f"badbuzz {' '.join(args)} failed:\n{done.stderr}")
    return next((home / "out").rglob("ensemble.json")).parent


def single_ms(bundle: ModelBundle, texts: Sequence[str]) -> float:
    bundle.predict_proba(texts[:10])  # warm-up
    times = []
    for text in texts:
        started = time.perf_counter()
        bundle.predict_proba([text])
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def batched_ms(bundle: ModelBundle, texts: Sequence[str]) -> float:
    started = time.perf_counter()
    for start in range(0, len(texts), BATCH):
        bundle.predict_proba(texts[start : start + BATCH])
    return 1000 * (time.perf_counter() - started) / len(texts)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=None)
    parser.add_argument("--sample", type=int, default=4000)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    manual = locate_manual_test(TrainingSettings())
    texts = read_sentiment140(manual.path, member=manual.member, keep_neutral=True)["text"]
    texts = texts.tolist()
    with tempfile.TemporaryDirectory(prefix="bench-ensemble-") as tmp:
        directory = args.bundle or trained_bundle(Path(tmp), args.sample)
        options = RuntimeOptions(onnx_threads=args.threads)
        ensemble = ModelBundle.load(directory, options)
        assert isinstance(ensemble.scorer, MeanScorer), f"{directory} is not an ensemble"
        parts = [("ensemble", ensemble)] + [
            (member.directory.name, member) for member in ensemble.scorer.members
        ]
        print(f"{len(texts)} manual-set tweets, ONNX on {args.threads} thread(s)")
        print("| bundle | runtime | one tweet, median ms | in batches of 64, ms per tweet |")
        print("|---|---|---|---|")
        for name, bundle in parts:
            one, batched = single_ms(bundle, texts), batched_ms(bundle, texts)
            print(f"| {name} | {bundle.scorer.runtime} | {one:.2f} | {batched:.2f} |")


if __name__ == "__main__":
    main()
