"""Bundles holding a transformer classifier as ONNX plus its fast-tokenizer JSON.

Scoring needs only numpy, onnxruntime and tokenizers (no torch, no transformers), so the
serving image stays small. Exporting (`export_onnx`) and quantising (`quantize_int8`) are
training-side and import torch / onnxruntime.quantization inside the function.
"""

from __future__ import annotations

import logging
import os
import shutil
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from training.bundle import Manifest
from training.text import NormalizationConfig

if TYPE_CHECKING:
    import torch

MODEL_FILE = "model.onnx"
QUANTIZED_MODEL_FILE = "model.int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
DEFAULT_MAX_LEN = 64
DEFAULT_BATCH_SIZE = 64
OPSET = 17
# Serving can override the manifest's thread count without rewriting the bundle.
THREADS_ENV = "BADBUZZ_ONNX_THREADS"
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")


def _softmax_positive(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return np.asarray(exp[:, 1] / exp.sum(axis=1), dtype=np.float64)


class OnnxScorer:
    runtime = "onnxruntime"

    def __init__(
        self,
        session: ort.InferenceSession,
        tokenizer: Tokenizer,
        max_len: int = DEFAULT_MAX_LEN,
        batch_size: int = DEFAULT_BATCH_SIZE,
        pad_id: int = 0,
    ) -> None:
        self.session = session
        self.tokenizer = tokenizer
        self.max_len = max_len
        self.batch_size = batch_size
        self.input_names = [i.name for i in session.get_inputs()]
        self.pad_id = pad_id
        tokenizer.no_padding()  # padding is per batch, below
        tokenizer.enable_truncation(max_length=max_len)

    def _batch_inputs(self, encodings: Sequence[Any]) -> dict[str, np.ndarray]:
        width = max(len(e.ids) for e in encodings)
        ids = np.full((len(encodings), width), self.pad_id, dtype=np.int64)
        mask = np.zeros_like(ids)
        types = np.zeros_like(ids)
        for row, encoding in enumerate(encodings):
            n = len(encoding.ids)
            ids[row, :n] = encoding.ids
            mask[row, :n] = 1
            types[row, :n] = encoding.type_ids
        arrays = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        return {name: arrays[name] for name in self.input_names}

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros(0)
        encodings = self.tokenizer.encode_batch(list(texts))
        # Batches of similar lengths waste little on padding.
        order = np.argsort([len(e.ids) for e in encodings], kind="stable")
        p_positive = np.empty(len(texts))
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            inputs = self._batch_inputs([encodings[i] for i in chunk])
            logits = self.session.run(None, inputs)[0]
            p_positive[chunk] = _softmax_positive(np.asarray(logits, dtype=np.float64))
        return p_positive


def session(model_path: Path, intra_op_threads: int = 1) -> ort.InferenceSession:
    """A CPU session; one thread by default so replicas share a box predictably."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(
        str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
    )


def load(directory: Path, manifest: Manifest) -> OnnxScorer:
    options = manifest.runtime_options
    threads = int(os.environ.get(THREADS_ENV) or options.get("intra_op_threads", 1))
    return OnnxScorer(
        session(directory / manifest.model_file, threads),
        Tokenizer.from_file(str(directory / options.get("tokenizer_file", TOKENIZER_FILE))),
        max_len=int(options.get("max_len", DEFAULT_MAX_LEN)),
        batch_size=int(options.get("batch_size", DEFAULT_BATCH_SIZE)),
        pad_id=int(options.get("pad_id", 0)),
    )


def write_bundle(
    directory: Path,
    onnx_model: Path,
    tokenizer_json: Path,
    normalization: NormalizationConfig,
    threshold: float,
    max_len: int,
    metadata: dict[str, Any] | None = None,
    pad_id: int = 0,
    intra_op_threads: int = 1,
) -> Path:
    """Write a bundle for an exported classifier that scores normalised text."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(onnx_model, directory / onnx_model.name)
    shutil.copyfile(tokenizer_json, directory / TOKENIZER_FILE)
    Manifest(
        runtime="onnx",
        model_file=onnx_model.name,
        normalization=normalization.to_dict(),
        threshold=threshold,
        metadata=metadata or {},
        runtime_options={
            "max_len": max_len,
            "tokenizer_file": TOKENIZER_FILE,
            "batch_size": DEFAULT_BATCH_SIZE,
            "pad_id": pad_id,
            "intra_op_threads": intra_op_threads,
        },
    ).write(directory)
    return directory


def export_onnx(model: torch.nn.Module, input_names: Sequence[str], path: Path) -> Path:
    """Export a sequence classifier (logits output) with dynamic batch and sequence axes.

    Uses the TorchScript exporter: the torch.export-based one needs onnxscript, which the
    transformer extra does not install. Tracing records the attention-mask branch it sees,
    so the example batch is padded (one short and one long row) to trace the masked path,
    which is also correct for batches without padding.
    """
    import torch

    model = model.eval().to("cpu")
    vocab_size = int(getattr(model.config, "vocab_size", 100))
    lengths = (4, 12)
    ids = torch.zeros((2, max(lengths)), dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, n in enumerate(lengths):
        ids[row, :n] = torch.arange(1, n + 1) % (vocab_size - 1) + 1
        mask[row, :n] = 1
    example = {"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids)}
    names = [name for name in INPUT_NAMES if name in input_names]
    axes = {name: {0: "batch", 1: "sequence"} for name in names}
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad(), warnings.catch_warnings():
        # Tracing notes on shape checks and index ops, and the legacy exporter's deprecation:
        # the parity check on real tweets is what decides whether the graph is right.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export")
        warnings.filterwarnings("ignore", message=".*aten::index operator")
        torch.onnx.export(
            model,
            (),
            str(path),
            kwargs={name: example[name] for name in names},
            input_names=names,
            output_names=["logits"],
            dynamic_axes={**axes, "logits": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )
    return path


def quantize_int8(source: Path, target: Path) -> Path:
    """Dynamic int8 quantisation of the weights (activations stay float)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # It reports every tensor it skips on the root logger at INFO.
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.WARNING))
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8)
    finally:
        root.setLevel(level)
    return target
