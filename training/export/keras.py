"""Keras-only bundles (`model.keras` + vocabulary, no flatbuffer), and their conversion to
TFLite where they are served (`badbuzz.bundle.runtimes.keras` runs this module as a child
process, so TensorFlow never enters the serving process):

    python -m training.export.keras MODEL.keras VOCAB.json OUT.tflite
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from badbuzz.bundle.runtimes.keras import MODEL_FILE
from badbuzz.bundle.vocabulary import Vocabulary
from badbuzz.text import NormalizationConfig
from training.export.tflite import check_parity, export_tflite, write_token_id_bundle

if TYPE_CHECKING:
    import keras

PARITY_ROWS = 200
PARITY_TOLERANCE = 1e-4


def write_keras_bundle(
    directory: Path,
    model: keras.Model,
    vocabulary: Vocabulary,
    normalization: NormalizationConfig,
    threshold: float,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write a bundle for a Keras model over the vocabulary's ids of normalised text."""
    directory.mkdir(parents=True, exist_ok=True)
    model.save(directory / MODEL_FILE)
    return write_token_id_bundle(
        directory, "keras", MODEL_FILE, vocabulary, normalization, threshold, metadata
    )


def _convert_main(keras_file: str, vocab_file: str, target: str) -> None:
    """The child process: load, export, check parity, write."""
    import keras

    vocabulary = Vocabulary.load(Path(vocab_file))
    model = keras.saving.load_model(keras_file, compile=False)
    content = export_tflite(model, vocabulary.max_len)
    rng = np.random.default_rng(0)
    shape = (PARITY_ROWS, vocabulary.max_len)
    ids = rng.integers(2, vocabulary.vocab_size, size=shape).astype(np.int32)
    for row, length in enumerate(rng.integers(1, vocabulary.max_len + 1, size=PARITY_ROWS)):
        ids[row, length:] = 0  # post padding, as the vocabulary pads
    check_parity(model, content, vocabulary, ids, PARITY_TOLERANCE)
    Path(target).write_bytes(content)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    try:
        _convert_main(*sys.argv[1:])
    except Exception as error:  # the parent shows the last stderr line
        sys.exit(f"{type(error).__name__}: {error}")
