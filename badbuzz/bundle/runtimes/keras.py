"""Bundles holding a Keras model (`model.keras`) and its vocabulary, but no TFLite flatbuffer:
served through TFLite all the same.

The first load converts the model, in a child process so TensorFlow never enters the
serving process, and only where TensorFlow can run (the CPU check comes before any import
of it, and TensorFlow must be installed: the training side's `deep` extra, whose
`training.export.keras` does the conversion). The flatbuffer must score like the Keras
model (parity on seeded random token ids) and is cached in the loader's cache folder by the
Keras file's sha256, so later loads, restarts included, skip the conversion. Where
TensorFlow cannot run, loading fails with a message naming the missing `model.tflite` and
what to do.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

from badbuzz.bundle.manifest import Manifest
from badbuzz.bundle.model import RuntimeOptions
from badbuzz.bundle.runtimes import tflite
from badbuzz.cpu import cpu_summary
from badbuzz.errors import BundleError

log = logging.getLogger(__name__)

MODEL_FILE = "model.keras"
CONVERT_TIMEOUT_S = 900
# Run as `python -m CONVERTER KERAS VOCAB OUT` where TensorFlow is installed.
CONVERTER = "training.export.keras"
CONVERTED_FOLDER = "tflite-from-keras"


def load(directory: Path, manifest: Manifest, options: RuntimeOptions) -> tflite.TFLiteScorer:
    if options.cache_dir is None:
        raise BundleError(
            f"{directory}: a Keras-only bundle is converted to TFLite on first load, and this "
            "loader was given no cache folder to keep the conversion in"
        )
    converted = (
        options.cache_dir / CONVERTED_FOLDER / f"{manifest.files[manifest.model_file]}.tflite"
    )
    if converted.is_file():
        log.info("%s: TFLite conversion cached at %s", directory, converted)
    else:
        convert(directory / manifest.model_file, tflite.vocab_path(directory, manifest), converted)
    return tflite.scorer_for(directory, manifest, converted)


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
            "where TensorFlow runs (pip install 'badbuzz[deep]') with the same model cache."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    log.info("%s has no %s: converting it once, in a child process", keras_file, tflite.MODEL_FILE)
    started = time.perf_counter()
    command = [sys.executable, "-m", CONVERTER, str(keras_file), str(vocab_file), str(partial)]
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
