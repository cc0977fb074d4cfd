"""Scale: load + normalise + TF-IDF + logistic regression on 1.6M tweets, with peak RSS.

Uses the full Sentiment140 training file when BADBUZZ_SENTIMENT140 points at it; otherwise
it resamples the shared 125k subset (with replacement, stratified) up to 1.6M rows and
says so: a resampled corpus has the vocabulary of 125k tweets, so the vectoriser's memory
is lower than it would be on the real file.

    python -m bench.scale [--rows 1600000]
"""

from __future__ import annotations

import argparse
import resource
import threading
import time

import numpy as np
import pandas as pd
import psutil
from sklearn.linear_model import LogisticRegression

from badbuzz.settings import TrainingSettings
from badbuzz.text import NormalizationConfig, normalize_many
from training.classical.pipelines import build_vectorizer
from training.data.sentiment140 import TRAIN_FILE, read_sentiment140
from training.data.sources import locate_training


class PeakRss:
    """Samples this process's RSS every 50 ms (ru_maxrss also counts the imports)."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        process = psutil.Process()
        while not self._stop.is_set():
            self.peak = max(self.peak, process.memory_info().rss)
            time.sleep(0.05)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def load(rows: int, seed: int) -> tuple[pd.DataFrame, str]:
    source = locate_training(TrainingSettings())
    frame = read_sentiment140(source.path, member=source.member)
    if source.path.name.startswith(TRAIN_FILE) or source.member == TRAIN_FILE:
        return frame.head(rows), f"full file {source}"
    rng = np.random.default_rng(seed)
    index = rng.integers(0, len(frame), size=rows)
    note = f"{len(frame):,} tweets of {source} resampled with replacement (full file absent)"
    return frame.iloc[index].reset_index(drop=True), note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_600_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    timings: dict[str, float] = {}
    script_start = time.perf_counter()
    with PeakRss() as rss:
        started = time.perf_counter()
        frame, note = load(args.rows, args.seed)
        timings["load"] = time.perf_counter() - started
        print(f"loaded {len(frame):,} rows: {note}", flush=True)

        mark = time.perf_counter()
        texts = normalize_many(frame["text"], NormalizationConfig())
        timings["normalise"] = time.perf_counter() - mark
        print(f"normalised in {timings['normalise']:.1f} s", flush=True)

        mark = time.perf_counter()
        vectorizer = build_vectorizer("tfidf", ngram_max=2, char_ngrams=False, max_features=None)
        features = vectorizer.fit_transform(texts)
        timings["tf-idf"] = time.perf_counter() - mark
        print(f"vectorised in {timings['tf-idf']:.1f} s", flush=True)

        mark = time.perf_counter()
        LogisticRegression(C=1.0, solver="liblinear", max_iter=2000).fit(features, frame["label"])
        timings["logistic regression"] = time.perf_counter() - mark
        total = time.perf_counter() - started

    print(f"wall time of this script so far: {time.perf_counter() - script_start:.1f} s")
    print(f"rows: {len(frame):,}  features: {features.shape[1]:,}  nnz: {features.nnz:,}")
    for stage, seconds in timings.items():
        print(f"{stage:>20}: {seconds:7.1f} s")
    print(f"{'total':>20}: {total:7.1f} s  (goal < 600 s)")
    print(f"normalisation: {len(frame) / timings['normalise']:,.0f} tweets/s (1 process)")
    print(
        f"peak RSS: {rss.peak / 2**30:.2f} GiB sampled, "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB ru_maxrss "
        "(goal < 6 GiB)"
    )


if __name__ == "__main__":
    main()
