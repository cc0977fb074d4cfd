"""Bundles holding a TFLite flatbuffer and its vocabulary: scored by LiteRT (or
`tflite_runtime`), never TensorFlow unless nothing lighter is installed.

The flatbuffer has a fixed input of shape [1, max_len] int32 (Keras 3 cannot export a
dynamic-batch LSTM without TensorList ops, which the builtin op set lacks), so a batch is
scored one row at a time through one interpreter whose tensors are allocated once.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ops.cpu import cpu_summary
from training.bundle import BundleError, Manifest
from training.text import NormalizationConfig
from training.tokenizer import Tokenizer

if TYPE_CHECKING:
    import keras

log = logging.getLogger(__name__)

MODEL_FILE = "model.tflite"
VOCAB_FILE = "vocab.json"


def interpreter_class() -> tuple[Any, str]:
    """The lightest TFLite interpreter installed, and its name."""
    try:
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter, "ai_edge_litert"
    except ImportError:
        pass
    try:
        from tflite_runtime.interpreter import Interpreter

        return Interpreter, "tflite_runtime"
    except ImportError:
        pass
    if not cpu_summary()["tensorflow_can_run"]:  # checked before TensorFlow is ever imported
        raise BundleError(
            "a tflite bundle needs ai-edge-litert (pip install ai-edge-litert) or tflite-runtime "
            "here: TensorFlow's wheels need AVX, which this CPU lacks"
        )
    try:
        import tensorflow as tf
    except ImportError as error:
        raise BundleError(
            "a tflite bundle needs ai-edge-litert (pip install ai-edge-litert), "
            "tflite-runtime or tensorflow; none is installed"
        ) from error
    return tf.lite.Interpreter, "tensorflow"


class TFLiteScorer:
    """Normalised texts -> token ids -> the interpreter, one row per invoke."""

    def __init__(self, model_content: bytes, tokenizer: Tokenizer, num_threads: int = 1) -> None:
        interpreter, self.runtime = interpreter_class()
        self.tokenizer = tokenizer
        self._interpreter = interpreter(model_content=model_content, num_threads=num_threads)
        self._interpreter.allocate_tensors()
        (inp,) = self._interpreter.get_input_details()
        (out,) = self._interpreter.get_output_details()
        if tuple(inp["shape"]) != (1, tokenizer.max_len):
            raise BundleError(
                f"the model takes input {tuple(inp['shape'])}, the vocabulary gives "
                f"(1, {tokenizer.max_len})"
            )
        self._input, self._output = inp["index"], out["index"]
        # One interpreter holds one set of tensors: concurrent callers take turns.
        self._lock = threading.Lock()

    def predict_ids(self, ids: np.ndarray) -> np.ndarray:
        p_positive = np.empty(len(ids), dtype=np.float64)
        with self._lock:
            for row in range(len(ids)):
                self._interpreter.set_tensor(self._input, ids[row : row + 1])
                self._interpreter.invoke()
                p_positive[row] = self._interpreter.get_tensor(self._output)[0, 0]
        return p_positive

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return self.predict_ids(self.tokenizer.encode(texts))


def vocab_path(directory: Path, manifest: Manifest) -> Path:
    return directory / manifest.runtime_options.get("vocab_file", VOCAB_FILE)


def load(directory: Path, manifest: Manifest, model_path: Path | None = None) -> TFLiteScorer:
    """The bundle's scorer; `model_path` is a flatbuffer made for it elsewhere (a converted
    Keras model), else the bundle's own model file."""
    options = manifest.runtime_options
    vocab = vocab_path(directory, manifest)
    try:
        tokenizer = Tokenizer.load(vocab)
    except (OSError, ValueError, KeyError) as error:
        raise BundleError(f"{vocab}: unreadable vocabulary ({error})") from error
    if tokenizer.max_len != options.get("max_len", tokenizer.max_len):
        raise BundleError(f"{directory}: vocabulary and manifest disagree on max_len")
    model_content = (model_path or directory / manifest.model_file).read_bytes()
    return TFLiteScorer(model_content, tokenizer, int(options.get("num_threads", 1)))


def finish_bundle(
    directory: Path,
    runtime: str,
    model_file: str,
    tokenizer: Tokenizer,
    normalization: NormalizationConfig,
    threshold: float,
    metadata: dict[str, Any] | None,
) -> Path:
    """Write the vocabulary and the manifest next to a model over the tokenizer's ids of
    normalised text (a TFLite flatbuffer, or a Keras model to convert)."""
    tokenizer.save(directory / VOCAB_FILE)
    Manifest(
        runtime=runtime,
        model_file=model_file,
        normalization=normalization.to_dict(),
        threshold=threshold,
        metadata=metadata or {},
        runtime_options={
            "max_len": tokenizer.max_len,
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


class ParityError(RuntimeError):
    """The TFLite model does not score like the Keras model it was converted from."""

    def __init__(self, message: str, difference: float) -> None:
        super().__init__(message)
        self.difference = difference


def check_parity(
    model: keras.Model,
    model_content: bytes,
    tokenizer: Tokenizer,
    ids: np.ndarray,
    tolerance: float,
) -> float:
    """Largest |P_keras - P_tflite| over the rows of `ids`; raises ParityError above
    `tolerance`."""
    keras_p = np.asarray(model.predict(ids, batch_size=256, verbose=0), dtype=np.float64)[:, 0]
    tflite_p = TFLiteScorer(model_content, tokenizer).predict_ids(ids)
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


def write_bundle(
    directory: Path,
    model_content: bytes,
    tokenizer: Tokenizer,
    normalization: NormalizationConfig,
    threshold: float,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write a bundle for a flatbuffer that scores the tokenizer's ids of normalised text."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MODEL_FILE).write_bytes(model_content)
    return finish_bundle(
        directory, "tflite", MODEL_FILE, tokenizer, normalization, threshold, metadata
    )
