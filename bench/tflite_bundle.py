"""A small TFLite bundle for the serving benchmarks: an LSTM over 4,000 real tweets, one epoch,
exported through the training side. It imports TensorFlow, so it is built in a process of its
own; what it learned does not matter, its shapes do.

    python -m bench.tflite_bundle OUT
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bench.load import real_tweets

REPO = Path(__file__).resolve().parents[1]
MAX_LEN = 40


def build_in_child(out: Path, timeout_s: float = 900.0) -> Path:
    """Build the bundle into `out` in a child process; RuntimeError with its stderr if not."""
    try:
        built = subprocess.run(
            [sys.executable, "-m", "bench.tflite_bundle", str(out)],
            cwd=REPO, capture_output=True, text=True, timeout=timeout_s, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired as error:
        raise RuntimeError(f"not built within {timeout_s:.0f} s") from error
    if built.returncode != 0:
        raise RuntimeError(built.stderr[-1500:])
    return out


def build(out: Path) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import numpy as np

    from badbuzz.bundle.vocabulary import Vocabulary
    from badbuzz.text import NormalizationConfig, normalize_many
    from training.export.tflite import check_parity, export_tflite, write_tflite_bundle
    from training.networks.architectures import NetworkConfig, build_network
    from training.networks.embeddings import WordVectors, embedding_matrix

    texts, labels = real_tweets(4000, seed=3)
    normalized = normalize_many(texts)
    vocabulary = Vocabulary.build(normalized, MAX_LEN)
    matrix = embedding_matrix(vocabulary, WordVectors({}, 64, "random"), seed=0)
    keras.utils.set_random_seed(0)
    model = build_network(NetworkConfig("lstm", units=32), matrix, MAX_LEN)
    ids = vocabulary.encode(normalized)
    model.fit(ids, np.asarray(labels), epochs=1, batch_size=128, verbose=0)
    content = export_tflite(model, MAX_LEN)
    check_parity(model, content, vocabulary, ids[:200], 1e-4)
    write_tflite_bundle(
        out, content, vocabulary, NormalizationConfig(), 0.5, {"model_family": "lstm"}
    )


if __name__ == "__main__":
    build(Path(sys.argv[1]))
