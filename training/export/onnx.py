"""ONNX bundles from fine-tuned transformer classifiers: export from PyTorch, optional
dynamic int8 quantisation, and the bundle writer (model, fast-tokenizer JSON, manifest)."""

from __future__ import annotations

import logging
import shutil
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from badbuzz.bundle.manifest import Manifest
from badbuzz.bundle.runtimes.onnx import DEFAULT_BATCH_SIZE, TOKENIZER_FILE
from badbuzz.text import NormalizationConfig

if TYPE_CHECKING:
    import torch

QUANTIZED_MODEL_FILE = "model.int8.onnx"
OPSET = 17
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")


def write_onnx_bundle(
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
