"""Bundles holding a Keras model (`model.keras`) and its vocabulary, but no TFLite flatbuffer:
served through TFLite all the same.

The first load converts the model, in a child process so TensorFlow never enters the
serving process, and only where TensorFlow can run (the CPU check comes before any import
of it, and TensorFlow must be installed). The flatbuffer must score like the Keras model
(parity on seeded random token ids) and is cached under `BADBUZZ_HOME` by the Keras file's
sha256, so later loads, restarts included, skip the conversion. Where TensorFlow cannot run,
loading fails with a message naming the missing `model.tflite` and what to do.

    python -m training.runtimes.keras_bundle MODEL.keras VOCAB.json OUT.tflite
"""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ops.cpu import cpu_summary
from training.bundle import BundleError, Manifest
from training.runtimes import tflite
from training.settings import TrainingSettings
from training.text import NormalizationConfig
from training.tokenizer import Tokenizer

if TYPE_CHECKING:
    import keras

log = logging.getLogger(__name__)

MODEL_FILE = "model.keras"
PARITY_ROWS = 200
PARITY_TOLERANCE = 1e-4
CONVERT_TIMEOUT_S = 900


def converted_dir() -> Path:
    return TrainingSettings().home_dir / "model-cache" / "tflite-from-keras"


def load(directory: Path, manifest: Manifest) -> tflite.TFLiteScorer:
    converted = converted_dir() / f"{manifest.files[manifest.model_file]}.tflite"
    if converted.is_file():
        log.info("%s: TFLite conversion cached at %s", directory, converted)
    else:
        convert(directory / manifest.model_file, tflite.vocab_path(directory, manifest), converted)
    return tflite.load(directory, manifest, converted)


def why_tensorflow_cannot_run() -> str | None:
    """None when TensorFlow can run here; else why not. Imports nothing of TensorFlow."""
    if not cpu_summary()["tensorflow_can_run"]:
        return "TensorFlow's wheels need AVX, which this CPU lacks"
    try:
        installed = importlib.util.find_spec("tensorflow") is not None
    except ImportError:
        installed = False
    if not installed:
        return "TensorFlow is not installed here (the serving image has none)"
    return None


def convert(keras_file: Path, vocab_file: Path, target: Path) -> None:
    """Convert `keras_file` (over the ids of `vocab_file`) to a TFLite flatbuffer at
    `target`, checked against Keras, in a child process."""
    reason = why_tensorflow_cannot_run()
    if reason is not None:
        raise BundleError(
            f"{keras_file.parent}: the bundle has {keras_file.name} but no {tflite.MODEL_FILE}, "
            f"and converting it needs TensorFlow: {reason}. Serve a bundle that carries "
            f"{tflite.MODEL_FILE} (`badbuzz train lstm` writes one), or load this one once "
            "where TensorFlow runs (pip install 'badbuzz[deep]') with the same BADBUZZ_HOME."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    log.info("%s has no %s: converting it once, in a child process", keras_file, tflite.MODEL_FILE)
    started = time.perf_counter()
    command = [sys.executable, "-m", __name__, str(keras_file), str(vocab_file), str(partial)]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=CONVERT_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as error:
        partial.unlink(missing_ok=True)
        raise BundleError(f"{keras_file}: TFLite conversion ran over {error.timeout} s") from error
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise BundleError(
            f"{keras_file}: TFLite conversion failed: {lines[-1] if lines else done.returncode}"
        )
    partial.replace(target)  # atomic: a crash never leaves a half-written cache entry
    log.info(
        "converted %s to TFLite in %.1f s (%.1f MB, cached at %s)",
        keras_file.name,
        time.perf_counter() - started,
        target.stat().st_size / 1e6,
        target,
    )


def write_bundle(
    directory: Path,
    model: keras.Model,
    tokenizer: Tokenizer,
    normalization: NormalizationConfig,
    threshold: float,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write a bundle for a Keras model over the tokenizer's ids of normalised text."""
    directory.mkdir(parents=True, exist_ok=True)
    model.save(directory / MODEL_FILE)
    return tflite.finish_bundle(
        directory, "keras", MODEL_FILE, tokenizer, normalization, threshold, metadata
    )


def _convert_main(keras_file: str, vocab_file: str, target: str) -> None:
    """The child process: load, export, check parity, write."""
    import keras

    tokenizer = Tokenizer.load(Path(vocab_file))
    model = keras.saving.load_model(keras_file, compile=False)
    content = tflite.export_tflite(model, tokenizer.max_len)
    rng = np.random.default_rng(0)
    shape = (PARITY_ROWS, tokenizer.max_len)
    ids = rng.integers(2, tokenizer.vocab_size, size=shape).astype(np.int32)
    for row, length in enumerate(rng.integers(1, tokenizer.max_len + 1, size=PARITY_ROWS)):
        ids[row, length:] = 0  # post padding, as the tokenizer pads
    tflite.check_parity(model, content, tokenizer, ids, PARITY_TOLERANCE)
    Path(target).write_bytes(content)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    try:
        _convert_main(*sys.argv[1:])
    except Exception as error:  # the parent shows the last stderr line
        sys.exit(f"{type(error).__name__}: {error}")
