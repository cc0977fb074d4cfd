"""Single-tweet latency on this machine, one run: the TFLite bundle on LiteRT (1 thread)
against Keras `model.predict` and a direct `model(x)` call on the same network (goal:
predict/TFLite >= 20x and TFLite < 1 ms median), plus the flatbuffer's size.

Without --bundle/--keras it first trains a small BiLSTM itself (random-initialised
embeddings over the vocabulary of --sample shared tweets, --epochs epochs): latency depends
on the shapes, not on what the weights learned.

    python -m bench.tflite_latency [--calls 300] [--bundle DIR --keras FILE.keras]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from badbuzz.bundle.model import ModelBundle
from badbuzz.bundle.runtimes.tflite import TFLiteScorer
from badbuzz.bundle.vocabulary import Vocabulary
from badbuzz.settings import TrainingSettings
from badbuzz.text import NormalizationConfig, normalize_many
from training.data.sentiment140 import read_sentiment140
from training.data.sources import locate_manual_test, locate_training
from training.data.split import stratified_sample


def train_small(directory: Path, sample: int, epochs: int, max_len: int) -> tuple[Path, Path]:
    import keras

    from training.export.tflite import check_parity, export_tflite, write_tflite_bundle
    from training.networks.architectures import NetworkConfig, build_network
    from training.networks.embeddings import WordVectors, embedding_matrix

    settings = TrainingSettings()
    source = locate_training(settings)
    frame = stratified_sample(read_sentiment140(source.path, member=source.member), sample, 0)
    texts = normalize_many(frame["text"])
    vocabulary = Vocabulary.build(texts, max_len)
    matrix = embedding_matrix(vocabulary, WordVectors({}, 100, "random"), seed=0)
    keras.utils.set_random_seed(0)
    model = build_network(NetworkConfig("bilstm", units=64), matrix, max_len)
    ids = vocabulary.encode(texts)
    model.fit(ids, frame["label"].to_numpy(), epochs=epochs, batch_size=128, verbose=0)
    content = export_tflite(model, max_len)
    check_parity(model, content, vocabulary, ids[:300], 1e-4)
    keras_file = directory / "model.keras"
    model.save(keras_file)
    bundle = write_tflite_bundle(
        directory / "bundle", content, vocabulary, NormalizationConfig(), 0.5
    )
    return bundle, keras_file


def median_ms(call: Callable[[int], Any], calls: int, warmup: int) -> float:
    for i in range(warmup):
        call(i)
    times = []
    for i in range(calls):
        start = time.perf_counter()
        call(i)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, help="a tflite bundle directory")
    parser.add_argument("--keras", type=Path, help="the .keras model the bundle came from")
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--sample", type=int, default=4000, help="tweets to train on")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--max-len", type=int, default=32)
    args = parser.parse_args()
    if (args.bundle is None) != (args.keras is None):
        parser.error("give --bundle and --keras together, or neither")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    with tempfile.TemporaryDirectory() as tmp:
        trained_here = args.bundle is None
        if trained_here:
            bundle_dir, keras_file = train_small(Path(tmp), args.sample, args.epochs, args.max_len)
        else:
            bundle_dir, keras_file = args.bundle, args.keras
        import keras

        model = keras.saving.load_model(keras_file)
        bundle = ModelBundle.load(bundle_dir)
        assert isinstance(bundle.scorer, TFLiteScorer)
        scorer: TFLiteScorer = bundle.scorer
        manual = locate_manual_test(TrainingSettings())
        raw = read_sentiment140(manual.path, member=manual.member)["text"].tolist()
        assert bundle.normalization is not None  # a TFLite bundle normalises, not its runtime
        ids = scorer.vocabulary.encode(normalize_many(raw, bundle.normalization))
        rows = [ids[i : i + 1] for i in range(len(ids))]

        def pick(i: int) -> np.ndarray:
            return rows[i % len(rows)]

        timings = {
            "TFLite invoke (ids in)": median_ms(
                lambda i: scorer.predict_ids(pick(i)), args.calls, args.warmup
            ),
            "TFLite bundle (raw text in)": median_ms(
                lambda i: bundle.predict_proba([raw[i % len(raw)]]), args.calls, args.warmup
            ),
            "Keras model(x)": median_ms(
                lambda i: model(pick(i), training=False), args.calls, args.warmup
            ),
            "Keras model.predict(x)": median_ms(
                lambda i: model.predict(pick(i), verbose=0), args.calls, args.warmup
            ),
        }
        size = (bundle_dir / bundle.manifest.model_file).stat().st_size

    print(
        f"\n{'small BiLSTM trained here' if trained_here else bundle_dir}: "
        f"input [1, {scorer.vocabulary.max_len}], vocabulary {scorer.vocabulary.vocab_size:,}, "
        f"interpreter {scorer.runtime} (1 thread), {os.cpu_count()} CPUs; medians of "
        f"{args.calls} single-tweet calls after {args.warmup} warm-up calls\n"
    )
    print("| path | median ms |")
    print("|---|---|")
    for name, ms in timings.items():
        print(f"| {name} | {ms:.3f} |")
    tflite = timings["TFLite invoke (ids in)"]
    ratio = timings["Keras model.predict(x)"] / tflite
    print(f"\nmodel.predict / TFLite: {ratio:.0f}x (goal >= 20x)")
    print(f"model(x) / TFLite: {timings['Keras model(x)'] / tflite:.0f}x")
    print(f"TFLite median {tflite:.3f} ms (goal < 1 ms)")
    print(f"model.tflite: {size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
