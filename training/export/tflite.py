"""TFLite bundles from Keras networks over token ids: export a builtins-only flatbuffer,
check it scores like Keras, and write the bundle (flatbuffer, vocabulary, manifest).

The same writer serves Keras-only bundles (`training.export.keras`), which carry
`model.keras` and are converted where they are served.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from badbuzz.bundle.manifest import Manifest
from badbuzz.bundle.runtimes.tflite import MODEL_FILE, VOCAB_FILE, TFLiteScorer
from badbuzz.bundle.vocabulary import Vocabulary
from badbuzz.errors import ParityError
from badbuzz.text import NormalizationConfig

if TYPE_CHECKING:
    import keras

log = logging.getLogger(__name__)


def write_token_id_bundle(
    directory: Path,
    runtime: str,
    model_file: str,
    vocabulary: Vocabulary,
    normalization: NormalizationConfig,
    threshold: float,
    metadata: dict[str, Any] | None,
) -> Path:
    """Write the vocabulary and the manifest next to a model over the vocabulary's ids of
    normalised text (a TFLite flatbuffer, or a Keras model to convert)."""
    vocabulary.save(directory / VOCAB_FILE)
    Manifest(
        runtime=runtime,
        model_file=model_file,
        normalization=normalization.to_dict(),
        threshold=threshold,
        metadata=metadata or {},
        runtime_options={
            "max_len": vocabulary.max_len,
            "vocab_file": VOCAB_FILE,
            "input_dtype": "int32",
            "padding": "post",
            "num_threads": 1,
        },
    ).write(directory)
    return directory


def export_tflite(model: keras.Model, max_len: int) -> bytes:
    """Convert a Keras model over [batch, max_len] ids to a builtins-only flatbuffer with a
    fixed [1, max_len] input (imports TensorFlow)."""
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as tmp:
        model.export(
            tmp,
            format="tf_saved_model",
            input_signature=[tf.TensorSpec([1, max_len], tf.int32)],
            verbose=False,
        )
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp)
        # Builtins only: Flex (select TF ops) would bring TensorFlow back into serving.
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        content: bytes = converter.convert()
    log.info("TFLite export: %.1f MB, builtin ops only", len(content) / 1e6)
    return content


def check_parity(
    model: keras.Model,
    model_content: bytes,
    vocabulary: Vocabulary,
    ids: np.ndarray,
    tolerance: float,
) -> float:
    """Largest |P_keras - P_tflite| over the rows of `ids`; raises ParityError above
    `tolerance`."""
    keras_p = np.asarray(model.predict(ids, batch_size=256, verbose=0), dtype=np.float64)[:, 0]
    tflite_p = TFLiteScorer(model_content, vocabulary).predict_ids(ids)
    worst = float(np.max(np.abs(keras_p - tflite_p)))
    if not worst <= tolerance:  # also catches NaN
        row = int(np.nanargmax(np.abs(keras_p - tflite_p)))
        raise ParityError(
            f"TFLite and Keras disagree by {worst:.2e} (tolerance {tolerance:.0e}) on "
            f"{len(ids)} tweets, worst at row {row}: Keras {keras_p[row]:.6f}, TFLite "
            f"{tflite_p[row]:.6f}; not registering this bundle",
            worst,
        )
    log.info("TFLite parity: max |diff| %.2e over %d tweets", worst, len(ids))
    return worst


def write_tflite_bundle(
    directory: Path,
    model_content: bytes,
    vocabulary: Vocabulary,
    normalization: NormalizationConfig,
    threshold: float,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write a bundle for a flatbuffer that scores the vocabulary's ids of normalised text."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MODEL_FILE).write_bytes(model_content)
    return write_token_id_bundle(
        directory, "tflite", MODEL_FILE, vocabulary, normalization, threshold, metadata
    )
