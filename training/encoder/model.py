"""Sentence embeddings as sentence-transformers computes them for all-MiniLM-L6-v2 (the
attention-masked mean of the last hidden states, L2-normalised), and the classifier that
puts a fitted logistic head on them: one module, so one ONNX graph, tokens to logits."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from badbuzz.errors import CheckpointError


class SentenceEncoder(torch.nn.Module):
    """Token ids to unit-length sentence embeddings; the transformer's weights stay frozen."""

    def __init__(self, transformer: Any) -> None:
        super().__init__()
        self.transformer = transformer.eval().requires_grad_(False)

    @property
    def config(self) -> Any:
        return self.transformer.config

    @property
    def dimension(self) -> int:
        return int(self.transformer.config.hidden_size)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            inputs["token_type_ids"] = token_type_ids
        hidden = self.transformer(**inputs).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        mean = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return torch.nn.functional.normalize(mean, p=2, dim=1)


class SentenceClassifier(torch.nn.Module):
    """The encoder and a binary logistic head (weights `coef`, bias `intercept`) as a linear
    layer with two logits, -z/2 and z/2: their softmax is the head's sigmoid(z), which is
    what the ONNX runtime's scorer computes from a classifier's logits."""

    def __init__(self, encoder: SentenceEncoder, coef: np.ndarray, intercept: float) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = torch.nn.Linear(encoder.dimension, 2)
        weight = torch.as_tensor(np.asarray(coef, dtype=np.float32).reshape(1, -1)) / 2
        bias = torch.tensor([float(intercept) / 2], dtype=torch.float32)
        with torch.no_grad():
            self.head.weight.copy_(torch.cat([-weight, weight]))
            self.head.bias.copy_(torch.cat([-bias, bias]))

    @property
    def config(self) -> Any:
        return self.encoder.config

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return self.head(self.encoder(input_ids, attention_mask, token_type_ids))


def load_encoder(checkpoint: str) -> tuple[SentenceEncoder, Any]:
    """The checkpoint's transformer (no task head) as a sentence encoder, and its fast
    tokenizer."""
    from transformers import AutoModel, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(checkpoint)
        transformer = AutoModel.from_pretrained(checkpoint)
    except OSError as error:
        raise CheckpointError(f"cannot load checkpoint {checkpoint!r}: {error}") from error
    if getattr(tokenizer, "backend_tokenizer", None) is None:
        raise CheckpointError(f"{checkpoint!r} has no fast tokenizer (tokenizer.json) to export")
    return SentenceEncoder(transformer), tokenizer
