"""`--recipe encoder`: the frozen all-MiniLM-L6-v2 encoder (mean-pooled, normalised
embeddings) with a logistic head refitted on Sentiment140 plus the weighted feedback, whatever
the champion's family. Only the head learns: embeddings come from a per-tweet disk cache
(`training/encoder/cache.py`: Sentiment140's are computed once, minutes on CPU), so a fit
takes seconds. Shipped as `badbuzz train encoder` ships it: encoder, pooling and head as one
ONNX graph, checked against PyTorch + scikit-learn (the `encoder_logreg` family, served by
onnxruntime + tokenizers)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from training.encoder.cache import EmbeddingCache, encoder_folder
from training.encoder.head import (
    MODEL_FAMILY,
    POOLING,
    EncoderConfig,
    build_bundle,
    probability_positive,
)
from training.feedback.fitting import ChallengerRecipe, Features


@dataclass
class EncoderRecipe(ChallengerRecipe):
    cache_root: Path  # embeddings, one subfolder per encoder
    config: EncoderConfig = field(default_factory=EncoderConfig)
    weight: float = 5.0
    _loaded: tuple[Any, Any, EmbeddingCache] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return "encoder"

    @property
    def model_family(self) -> str:
        return MODEL_FAMILY

    @property
    def embedding_type(self) -> str:
        from training.transformer.checkpoint import embedding_type_for

        return self.config.embedding_type or (
            f"{embedding_type_for(self.checkpoint, 'bert')}-{POOLING}"
        )

    @property
    def default_weight(self) -> float:
        return self.weight

    @property
    def checkpoint(self) -> str:
        from training.transformer.checkpoint import default_checkpoint

        return self.config.checkpoint or str(default_checkpoint())

    @property
    def onnx_threads(self) -> int | None:
        return self.config.onnx_threads

    def _encoder(self) -> tuple[Any, Any, EmbeddingCache]:
        if self._loaded is None:
            import torch

            from training.encoder.model import load_encoder

            if self.config.threads:
                torch.set_num_threads(self.config.threads)
            encoder, tokenizer = load_encoder(self.checkpoint)
            folder = encoder_folder(self.cache_root, self.checkpoint, self.config)
            self._loaded = (
                encoder,
                tokenizer,
                EmbeddingCache(folder, encoder, tokenizer, self.config),
            )
        return self._loaded

    def features(self, texts: Sequence[str], progress: str | None = None) -> np.ndarray:
        return self._encoder()[2].embed(texts, progress)

    def fit(self, features: Features, feedback_rows: np.ndarray | None = None) -> Any:
        from sklearn.linear_model import LogisticRegression

        rows, labels, weights = features.training_set(feedback_rows)
        head = LogisticRegression(
            C=self.config.c, max_iter=self.config.max_iter, random_state=self.config.seed
        )
        return head.fit(rows, labels, sample_weight=weights)

    def score(self, fitted: Any, rows: np.ndarray) -> np.ndarray:
        return probability_positive(fitted, rows)

    def write_bundle(
        self,
        fitted: Any,
        directory: Path,
        parity_texts: Sequence[str],
        parity_labels: np.ndarray,
    ) -> Path:
        encoder, tokenizer, _ = self._encoder()
        report = build_bundle(
            encoder,
            tokenizer,
            fitted,
            directory,
            self.config,
            parity_texts[: self.config.parity_sample],
            parity_labels[: self.config.parity_sample],
            {
                "checkpoint": self.checkpoint,
                "base_model_type": encoder.config.model_type,
                "pooling": POOLING,
                "head": "logistic_regression",
            },
        )
        return report.bundle_dir

    def params(self) -> dict[str, Any]:
        return {"recipe": self.name, **self.config.params()}
