"""Latency per tweet on this machine, one run, 1 thread each: PyTorch (eager, inference mode)
against the ONNX bundle on onnxruntime, fp32 and dynamic int8, scoring real tweets (the
manual test set) one at a time and in batches of 64, through the same normalisation and
tokenisation; plus the models' sizes and how far int8 drifts from fp32.

Without --bundle it exports --checkpoint (default: the packaged all-MiniLM-L6-v2) with a new,
untrained head: latency depends on the shapes, not on what the weights learned. With
--bundle DIR (an fp32 bundle from `badbuzz train transformer`), ONNX fp32 is that bundle's
model, int8 its quantisation, and the manual-set accuracy of both is reported; PyTorch is
then --checkpoint (same architecture, base weights).

    python -m bench.transformer_latency [--calls 300] [--bundle DIR] [--checkpoint PATH]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from badbuzz.bundle.manifest import Manifest
from badbuzz.bundle.model import ModelBundle, RuntimeOptions
from badbuzz.bundle.runtimes.onnx import MODEL_FILE, TOKENIZER_FILE
from badbuzz.settings import TrainingSettings
from badbuzz.text import NormalizationConfig, normalize_many
from training.data.sentiment140 import read_sentiment140
from training.data.sources import locate_manual_test
from training.export.onnx import QUANTIZED_MODEL_FILE, export_onnx, quantize_int8, write_onnx_bundle
from training.transformer.checkpoint import TRANSFORMER_NORMALIZATION, default_checkpoint
from training.transformer.fine_tuning import (
    load_checkpoint,
    predict_logits,
    probability_positive,
)

BATCH = 64


def median_ms_per_tweet(
    call: Callable[[Sequence[str]], Any], groups: list[list[str]], warmup: int
) -> float:
    for group in groups[:warmup]:
        call(group)
    times = []
    for group in groups:
        start = time.perf_counter()
        call(group)
        times.append((time.perf_counter() - start) / len(group))
    return 1000 * statistics.median(times)


def fresh_bundle(model: Any, tokenizer: Any, directory: Path, max_len: int) -> Path:
    export_onnx(model, tokenizer.model_input_names, directory / "export" / MODEL_FILE)
    tokenizer.backend_tokenizer.save(str(directory / "export" / TOKENIZER_FILE))
    return write_onnx_bundle(
        directory / "fp32",
        directory / "export" / MODEL_FILE,
        directory / "export" / TOKENIZER_FILE,
        TRANSFORMER_NORMALIZATION,
        0.5,
        max_len,
        pad_id=tokenizer.pad_token_id or 0,
    )


def int8_bundle(fp32_dir: Path, directory: Path) -> Path:
    manifest = Manifest.read(fp32_dir)
    assert manifest.normalization is not None  # an ONNX transformer bundle normalises
    quantized = quantize_int8(fp32_dir / manifest.model_file, directory / QUANTIZED_MODEL_FILE)
    return write_onnx_bundle(
        directory / "int8",
        quantized,
        fp32_dir / manifest.runtime_options["tokenizer_file"],
        NormalizationConfig.from_dict(manifest.normalization),
        manifest.threshold,
        int(manifest.runtime_options["max_len"]),
        pad_id=int(manifest.runtime_options.get("pad_id", 0)),
    )


def print_table(timings: dict[str, tuple[float, float]], sizes: dict[str, int]) -> None:
    """Each runtime's median ms per tweet, one at a time and in batches, against PyTorch's."""
    base_single, base_batch = timings["PyTorch (eager)"]
    print("| runtime | median ms/tweet, one at a time | vs PyTorch | median ms/tweet, ", end="")
    print(f"batches of {BATCH} | vs PyTorch | model size MB |")
    print("|---|---|---|---|---|---|")
    for name, (single, batch) in timings.items():
        print(
            f"| {name} | {single:.2f} | {base_single / single:.1f}x | {batch:.2f} | "
            f"{base_batch / batch:.1f}x | {sizes[name] / 1e6:.1f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, help="an fp32 ONNX bundle directory")
    parser.add_argument("--checkpoint", default=None, help="PyTorch side (default: MiniLM)")
    parser.add_argument("--calls", type=int, default=300, help="single tweets timed")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--max-len", type=int, default=64)
    args = parser.parse_args()
    if args.bundle and Manifest.read(args.bundle).model_file != MODEL_FILE:
        parser.error(f"{args.bundle} is not an fp32 ONNX bundle (no {MODEL_FILE})")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)

    checkpoint = args.checkpoint or str(default_checkpoint())
    model, tokenizer = load_checkpoint(checkpoint)
    model.eval()
    manual = locate_manual_test(TrainingSettings())
    frame = read_sentiment140(manual.path, member=manual.member, keep_neutral=True)
    raw = frame["text"].tolist()

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        fp32_dir = args.bundle or fresh_bundle(model, tokenizer, work, args.max_len)
        int8_dir = int8_bundle(fp32_dir, work)
        one_thread = RuntimeOptions(onnx_threads=1)
        fp32 = ModelBundle.load(fp32_dir, one_thread)
        int8 = ModelBundle.load(int8_dir, one_thread)
        max_len = int(fp32.manifest.runtime_options["max_len"])
        normalization = fp32.normalization
        assert normalization is not None

        def torch_scores(texts: Sequence[str]) -> np.ndarray:
            logits = predict_logits(
                model, tokenizer, normalize_many(texts, normalization), max_len, BATCH
            )
            return probability_positive(logits)

        singles = [[raw[i % len(raw)]] for i in range(args.calls)]
        batches = [raw[i : i + BATCH] for i in range(0, len(raw) - BATCH + 1, BATCH)]
        runtimes: dict[str, Callable[[Sequence[str]], Any]] = {
            "PyTorch (eager)": torch_scores,
            "ONNX fp32 (onnxruntime)": fp32.predict_proba,
            "ONNX int8 (onnxruntime)": int8.predict_proba,
        }
        timings = {
            name: (
                median_ms_per_tweet(call, singles, args.warmup),
                median_ms_per_tweet(call, batches, 1),
            )
            for name, call in runtimes.items()
        }
        p_fp32, p_int8 = fp32.predict_proba(raw), int8.predict_proba(raw)
        sizes = {
            "PyTorch (eager)": sum(p.numel() * p.element_size() for p in model.parameters()),
            "ONNX fp32 (onnxruntime)": (fp32_dir / fp32.manifest.model_file).stat().st_size,
            "ONNX int8 (onnxruntime)": (int8_dir / int8.manifest.model_file).stat().st_size,
        }

    source = f"bundle {args.bundle}" if args.bundle else f"fresh export of {checkpoint}"
    print(f"\nONNX: {source}; PyTorch: {checkpoint}; max_len {max_len}; 1 thread each.")
    print(f"Tweets: the manual test set ({len(raw)}), {args.calls} single calls, ", end="")
    print(f"{len(batches)} batches of {BATCH}; raw text in, P(positive) out.\n")
    print_table(timings, sizes)
    agree = ((p_int8 >= 0.5) == (p_fp32 >= 0.5)).mean()
    drift = np.abs(p_int8 - p_fp32).max()
    print(f"\nint8 vs fp32 on {len(raw)} tweets: max |dP| {drift:.3f}, labels agree {agree:.1%}.")
    if args.bundle:
        binary = frame["label"].to_numpy() >= 0
        labels = frame["label"].to_numpy()[binary]
        for name, p in (("fp32", p_fp32), ("int8", p_int8)):
            accuracy = ((p[binary] >= 0.5) == labels).mean()
            print(f"manual-set accuracy ({binary.sum()} tweets), ONNX {name}: {accuracy:.4f}")


if __name__ == "__main__":
    main()
