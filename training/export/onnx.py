"""ONNX bundles from PyTorch classifiers over a fast tokenizer (fine-tuned transformers, the
sentence encoder with its logistic head): export, optional dynamic int8 quantisation, the
bundle writer (model, fast-tokenizer JSON, manifest) and the parity check against the
framework the model was trained in."""

from __future__ import annotations

import logging
import shutil
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from badbuzz.bundle.manifest import Manifest
from badbuzz.bundle.model import ModelBundle, RuntimeOptions
from badbuzz.bundle.runtimes.onnx import DEFAULT_BATCH_SIZE, TOKENIZER_FILE
from badbuzz.errors import ParityError
from badbuzz.metric_names import DEFAULT_THRESHOLD
from badbuzz.text import NormalizationConfig

if TYPE_CHECKING:
    import torch

QUANTIZED_MODEL_FILE = "model.int8.onnx"
OPSET = 17
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OnnxBundleOptions:
    """How a checked ONNX bundle is written: what its scorer does, and the parity check."""

    normalization: NormalizationConfig
    max_len: int
    parity_tolerance: float
    quantize: bool
    onnx_threads: int  # of the session that scores the parity tweets here


@dataclass(frozen=True)
class ExportReport:
    bundle_dir: Path
    parity_tweets: int
    max_abs_diff_fp32: float
    accuracy_torch: float  # of the reference (the training framework) at 0.5
    max_abs_diff_int8: float | None = None
    accuracy_delta_int8: float | None = None

    def metrics(self) -> dict[str, float]:
        values = {
            "parity_max_abs_diff_fp32": self.max_abs_diff_fp32,
            "parity_accuracy_torch": self.accuracy_torch,
        }
        if self.max_abs_diff_int8 is not None and self.accuracy_delta_int8 is not None:
            values["parity_max_abs_diff_int8"] = self.max_abs_diff_int8
            values["parity_accuracy_delta_int8"] = self.accuracy_delta_int8
        return values


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


def write_checked_onnx_bundle(
    directory: Path,
    onnx_model: Path,
    tokenizer: Any,
    options: OnnxBundleOptions,
    parity_texts: Sequence[str],
    reference: np.ndarray,
    parity_labels: np.ndarray,
    metadata: dict[str, Any] | None = None,
    reference_name: str = "PyTorch",
) -> ExportReport:
    """Bundle an exported model with its fast tokenizer, check that the bundle scores the raw
    parity tweets like the training framework did (`reference`: its P(positive); max |dP|
    within tolerance, else ParityError and no bundle), and quantise to int8 when asked (its
    drift is reported, not enforced). The bundle carries one model: the int8 one if asked.
    `onnx_model` lies in a scratch folder, which also receives the tokenizer and fp32 bundle."""
    work = onnx_model.parent
    tokenizer_json = work / TOKENIZER_FILE
    tokenizer.backend_tokenizer.save(str(tokenizer_json))
    labels = np.asarray(parity_labels)
    accuracy_reference = float(((reference >= DEFAULT_THRESHOLD) == labels).mean())
    metadata = {
        **(metadata or {}),
        "max_len": options.max_len,
        "onnx_opset": OPSET,
        "onnx_exporter": "torchscript",
        "quantized": options.quantize,
    }

    def bundle(target: Path, model_file: Path) -> tuple[Path, np.ndarray]:
        written = write_onnx_bundle(
            target,
            model_file,
            tokenizer_json,
            options.normalization,
            DEFAULT_THRESHOLD,  # record() replaces it with the one chosen on validation
            options.max_len,
            metadata,
            pad_id=tokenizer.pad_token_id or 0,
        )
        loaded = ModelBundle.load(written, RuntimeOptions(onnx_threads=options.onnx_threads))
        return written, loaded.predict_proba(list(parity_texts))

    fp32_dir, fp32 = bundle(work / "fp32", onnx_model)
    diff = float(np.abs(fp32 - reference).max())
    log.info("ONNX fp32 vs %s on %d tweets: max |dP| = %.2e", reference_name, len(labels), diff)
    if diff > options.parity_tolerance:
        raise ParityError(
            f"the ONNX export scores differently from {reference_name}: max |P(positive) "
            f"difference| {diff:.2e} > {options.parity_tolerance:.0e} on {len(labels)} tweets; "
            "refusing to register a bundle that would not serve what was trained"
        )
    if not options.quantize:
        shutil.copytree(fp32_dir, directory)
        return ExportReport(directory, len(labels), diff, accuracy_reference)
    int8_dir, int8 = bundle(directory, quantize_int8(onnx_model, work / QUANTIZED_MODEL_FILE))
    int8_diff = float(np.abs(int8 - reference).max())
    delta = float(((int8 >= DEFAULT_THRESHOLD) == labels).mean()) - accuracy_reference
    log.info(
        "ONNX int8 vs %s: max |dP| = %.3f, accuracy delta %+.4f", reference_name, int8_diff, delta
    )
    return ExportReport(int8_dir, len(labels), diff, accuracy_reference, int8_diff, delta)
