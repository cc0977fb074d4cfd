"""What an ensemble bundle costs to serve, one run on this machine: single-tweet latency
(median over the manual test set's tweets, one call each, raw text in) and the time per tweet
in batches of 64, of the served answer (the ensemble's P(positive) and its neutral head's
call, as `/predict` labels a tweet), of the ensemble, the head and each member alone, loaded
as the API loads them (ONNX sessions on `--threads` threads, 1 by default as in the image).
A bundle without a neutral head gets one (`with_neutral_head`), fitted on the airline export.

Without --bundle it first trains a small ensemble itself (`badbuzz train ensemble --sample
N`, into a throw-away home): latency depends on the shapes (MiniLM, the TF-IDF vocabulary),
little on what the weights learned. With --bundle, any ensemble bundle folder (e.g. `badbuzz
export --model-uri models:/tweet-sentiment@champion --out DIR`: the folder holding
manifest.json).

    python -m bench.ensemble_latency [--bundle DIR] [--sample 4000] [--threads 1]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from badbuzz.bundle.manifest import Manifest
from badbuzz.bundle.model import ModelBundle, RuntimeOptions
from badbuzz.bundle.runtimes.mean import MeanScorer
from bench.airline import MANUAL, SENTIMENT140
from tests.badbuzz_cli import run_badbuzz
from training.data.sentiment140 import read_sentiment140

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


def with_neutral_head(directory: Path, work: Path) -> Path:
    """A copy of the bundle with a neutral head, fitted as retrain fits it on the airline
    export's first 2,000 mentions (neutral ones included): its cost depends on the shapes."""
    from bench.airline import airline_tweets
    from training.encoder.head import EncoderConfig
    from training.feedback.encoder_recipe import EncoderRecipe
    from training.feedback.neutral_head import NeutralHead

    copy = work / "with-head"
    shutil.copytree(directory, copy)
    mentions = airline_tweets(keep_neutral=True).head(2000)
    head = NeutralHead(EncoderRecipe(work / "embeddings", EncoderConfig()))
    fitted = head.fit(mentions["text"].tolist(), mentions["label"].to_numpy())
    assert fitted is not None, "too few neutral tweets for a head"
    head.attach(fitted, copy, mentions["text"].head(64).tolist())
    return copy


def single_ms(score: Callable[[list[str]], object], texts: Sequence[str]) -> float:
    score(list(texts[:10]))  # warm-up
    times = []
    for text in texts:
        started = time.perf_counter()
        score([text])
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def batched_ms(score: Callable[[list[str]], object], texts: Sequence[str]) -> float:
    started = time.perf_counter()
    for start in range(0, len(texts), BATCH):
        score(list(texts[start : start + BATCH]))
    return 1000 * (time.perf_counter() - started) / len(texts)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=None)
    parser.add_argument("--sample", type=int, default=4000)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    texts = read_sentiment140(MANUAL, keep_neutral=True)["text"].tolist()
    with tempfile.TemporaryDirectory(prefix="bench-ensemble-") as tmp:
        directory = args.bundle or trained_bundle(Path(tmp), args.sample)
        if Manifest.read(directory).neutral_head is None:
            directory = with_neutral_head(directory, Path(tmp))
        options = RuntimeOptions(onnx_threads=args.threads)
        served = ModelBundle.load(directory, options)
        assert isinstance(served.scorer, MeanScorer), f"{directory} is not an ensemble"
        assert served.neutral_head is not None
        parts: list[tuple[str, str, Callable[[list[str]], object]]] = [
            ("served: ensemble + neutral head", "label", served.classify),
            ("ensemble", served.scorer.runtime, served.predict_proba),
            ("neutral head", served.neutral_head.scorer.runtime, served.neutral_head.predict_proba),
        ] + [
            (member.directory.name, member.scorer.runtime, member.predict_proba)
            for member in served.scorer.members
        ]
        print(f"{len(texts)} manual-set tweets, ONNX on {args.threads} thread(s)")
        print("| bundle | runtime | one tweet, median ms | in batches of 64, ms per tweet |")
        print("|---|---|---|---|")
        for name, runtime, score in parts:
            one, batched = single_ms(score, texts), batched_ms(score, texts)
            print(f"| {name} | {runtime} | {one:.2f} | {batched:.2f} |")


if __name__ == "__main__":
    main()
