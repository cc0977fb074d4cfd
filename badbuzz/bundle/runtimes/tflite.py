"""Bundles holding a TFLite flatbuffer and its vocabulary: scored by LiteRT (or
`tflite_runtime`), never TensorFlow unless nothing lighter is installed.

The flatbuffer has a fixed input of shape [1, max_len] int32 (Keras 3 cannot export a
dynamic-batch LSTM without TensorList ops, which the builtin op set lacks), so a batch is
scored one row at a time through one interpreter whose tensors are allocated once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from badbuzz.bundle.manifest import Manifest
from badbuzz.bundle.model import RuntimeOptions
from badbuzz.bundle.vocabulary import Vocabulary
from badbuzz.cpu import cpu_summary
from badbuzz.errors import BundleError

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

    def __init__(self, model_content: bytes, vocabulary: Vocabulary, num_threads: int = 1) -> None:
        interpreter, self.runtime = interpreter_class()
        self.vocabulary = vocabulary
        self._interpreter = interpreter(model_content=model_content, num_threads=num_threads)
        self._interpreter.allocate_tensors()
        (inp,) = self._interpreter.get_input_details()
        (out,) = self._interpreter.get_output_details()
        if tuple(inp["shape"]) != (1, vocabulary.max_len):
            raise BundleError(
                f"the model takes input {tuple(inp['shape'])}, the vocabulary gives "
                f"(1, {vocabulary.max_len})"
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
        return self.predict_ids(self.vocabulary.encode(texts))


def vocab_path(directory: Path, manifest: Manifest) -> Path:
    return directory / manifest.runtime_options.get("vocab_file", VOCAB_FILE)


def load(directory: Path, manifest: Manifest, options: RuntimeOptions) -> TFLiteScorer:
    return scorer_for(directory, manifest, directory / manifest.model_file)


def scorer_for(directory: Path, manifest: Manifest, model_path: Path) -> TFLiteScorer:
    """The bundle's vocabulary in front of the flatbuffer at `model_path`: the bundle's own,
    or one made for it elsewhere (a converted Keras model)."""
    runtime_options = manifest.runtime_options
    vocab = vocab_path(directory, manifest)
    try:
        vocabulary = Vocabulary.load(vocab)
    except (OSError, ValueError, KeyError) as error:
        raise BundleError(f"{vocab}: unreadable vocabulary ({error})") from error
    if vocabulary.max_len != runtime_options.get("max_len", vocabulary.max_len):
        raise BundleError(f"{directory}: vocabulary and manifest disagree on max_len")
    return TFLiteScorer(
        model_path.read_bytes(), vocabulary, int(runtime_options.get("num_threads", 1))
    )
