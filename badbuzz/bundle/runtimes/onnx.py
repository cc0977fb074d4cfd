"""Bundles holding a transformer classifier as ONNX plus its fast-tokenizer JSON.

Scoring needs only numpy, onnxruntime and tokenizers (no torch, no transformers), so the
serving image stays small. Exporting is training-side (`training.export.onnx`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import tokenizers

from badbuzz.bundle.manifest import Manifest
from badbuzz.bundle.model import RuntimeOptions

MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
DEFAULT_MAX_LEN = 64
DEFAULT_BATCH_SIZE = 64


def _softmax_positive(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return np.asarray(exp[:, 1] / exp.sum(axis=1), dtype=np.float64)


class OnnxScorer:
    runtime = "onnxruntime"

    def __init__(
        self,
        session: ort.InferenceSession,
        tokenizer: tokenizers.Tokenizer,
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


def load(directory: Path, manifest: Manifest, options: RuntimeOptions) -> OnnxScorer:
    """The bundle's session; the loader's thread count, if set, overrides the manifest's."""
    bundle_options = manifest.runtime_options
    threads = options.onnx_threads or int(bundle_options.get("intra_op_threads", 1))
    tokenizer_file = directory / bundle_options.get("tokenizer_file", TOKENIZER_FILE)
    return OnnxScorer(
        session(directory / manifest.model_file, threads),
        tokenizers.Tokenizer.from_file(str(tokenizer_file)),
        max_len=int(bundle_options.get("max_len", DEFAULT_MAX_LEN)),
        batch_size=int(bundle_options.get("batch_size", DEFAULT_BATCH_SIZE)),
        pad_id=int(bundle_options.get("pad_id", 0)),
    )
