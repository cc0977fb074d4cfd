"""Sentence embeddings kept on disk, per tweet: the frozen encoder gives a tweet the same
embedding every time, so Sentiment140's are computed once (minutes on CPU) and a head is
refitted on them in seconds, by `badbuzz retrain` and the benchmarks alike.

A cache folder holds one subfolder per encoder (checkpoint, max length, normalisation); in it,
`.npz` chunks of (key, embedding) rows, a key being the first 16 bytes of the sha256 of the
normalised text. Missing tweets are embedded and written as a new chunk; chunks are written
aside and renamed, so a run killed mid-write leaves no half chunk.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from badbuzz.text import normalize_many
from training.encoder.head import EncoderConfig
from training.encoder.model import SentenceEncoder
from training.transformer.checkpoint import run_in_batches

log = logging.getLogger(__name__)

KEY_BYTES = 16


def text_keys(normalized: Sequence[str]) -> np.ndarray:
    """One fixed-width key per normalised text."""
    return np.array(
        [hashlib.sha256(text.encode("utf-8")).digest()[:KEY_BYTES] for text in normalized],
        dtype=f"S{KEY_BYTES}",
    )


def encoder_folder(root: Path, checkpoint: str, config: EncoderConfig) -> Path:
    """The subfolder of this encoder's embeddings: another checkpoint, length or
    normalisation gives other embeddings."""
    identity = json.dumps(
        {
            "checkpoint": checkpoint,
            "max_len": config.max_len,
            "normalization": config.normalization.to_dict(),
        },
        sort_keys=True,
    )
    return root / hashlib.sha256(identity.encode()).hexdigest()[:16]


class EmbeddingCache:
    """Embeddings of one encoder, looked up by normalised text."""

    def __init__(
        self,
        folder: Path,
        encoder: SentenceEncoder | None,
        tokenizer: Any,
        config: EncoderConfig,
    ) -> None:
        self.folder = folder
        self.encoder = encoder
        self.tokenizer = tokenizer
        self.config = config
        self._rows: dict[bytes, int] = {}
        self._vectors: list[np.ndarray] = []
        self._loaded = False

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for chunk in sorted(self.folder.glob("*.npz")):
            with np.load(chunk) as stored:
                self._add(stored["keys"], stored["vectors"])

    def _add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        offset = sum(len(v) for v in self._vectors)
        self._vectors.append(np.asarray(vectors, dtype=np.float32))
        for i, key in enumerate(keys.tolist()):
            self._rows.setdefault(key, offset + i)

    def embed(self, texts: Sequence[str], progress: str | None = None) -> np.ndarray:
        """Embeddings of raw tweets (normalised here, as `training.encoder.head.embed`
        does), in input order; the missing ones computed and stored."""
        self._load()
        normalized = normalize_many(texts, self.config.normalization)
        keys = text_keys(normalized)
        missing_rows = [i for i, key in enumerate(keys.tolist()) if key not in self._rows]
        if missing_rows:
            unique: dict[bytes, int] = {}
            for i in missing_rows:
                unique.setdefault(keys[i].tobytes(), i)
            rows = list(unique.values())
            if self.encoder is None:
                raise ValueError(f"{len(rows)} tweets are not in the cache and no encoder")
            log.info("embedding %d tweets not in %s", len(rows), self.folder)
            vectors = run_in_batches(
                self.encoder,
                self.tokenizer,
                [normalized[i] for i in rows],
                self.config.max_len,
                self.config.batch_size,
                progress=progress,
            ).astype(np.float32)
            self._write(keys[rows], vectors)
            self._add(keys[rows], vectors)
        table = np.concatenate(self._vectors) if len(self._vectors) > 1 else self._vectors[0]
        self._vectors = [table]
        return table[[self._rows[key] for key in keys.tolist()]]

    def _write(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = uuid.uuid4().hex
        aside = self.folder / f".{name}.npz.part"
        with aside.open("wb") as handle:
            np.savez(handle, keys=keys, vectors=vectors)
        os.replace(aside, self.folder / f"{name}.npz")
