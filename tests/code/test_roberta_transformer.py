"""The transformer path on a RoBERTa-family checkpoint (byte-level BPE, no token type ids,
`<s>`/`</s>`, cased, positions offset by the padding index): a tiny random RoBERTa and a
tokenizer trained here on real tweets, fine-tuned, exported, checked and served."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from badbuzz.bundle.model import ModelBundle
from badbuzz.errors import CheckpointError
from badbuzz.text import normalize_many
from tests.code.test_onnx_bundle import INIT_RANGE, RAW, fine_tune_tiny, real_tweets
from training.transformer.checkpoint import check_max_len, embedding_type_for, max_tokens
from training.transformer.fine_tuning import (
    TransformerConfig,
    build_bundle,
    load_checkpoint,
    predict_logits,
    probability_positive,
)

MAX_LEN = 48
# RoBERTa numbers positions from padding_idx + 1 = 2: MAX_LEN tokens need MAX_LEN + 2 rows.
MAX_POSITIONS = MAX_LEN + 2
CONFIG = TransformerConfig(
    epochs=1, batch_size=32, max_len=MAX_LEN, learning_rate=1e-3, log_every=2, threads=1
)


def build_tiny_roberta(directory: Path, texts: list[str]) -> Path:
    """A randomly initialised 2-layer RoBERTa and a byte-level BPE tokenizer trained on
    `texts`, saved as a Hugging Face checkpoint directory."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaConfig, RobertaForSequenceClassification, RobertaTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        texts, vocab_size=1_000, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    )
    bpe.save_model(str(directory))
    tokenizer = RobertaTokenizerFast(
        vocab=str(directory / "vocab.json"), merges=str(directory / "merges.txt")
    )
    tokenizer.save_pretrained(directory)
    torch.manual_seed(0)
    config = RobertaConfig(
        vocab_size=bpe.get_vocab_size(),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=MAX_POSITIONS,
        type_vocab_size=1,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        initializer_range=INIT_RANGE,  # scores spread over (0, 1), see test_onnx_bundle
    )
    RobertaForSequenceClassification(config).save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def tweets() -> pd.DataFrame:
    return real_tweets(500, seed=1)


@pytest.fixture(scope="module")
def checkpoint(tweets: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("tiny-roberta")
    return build_tiny_roberta(directory, normalize_many(tweets["text"], CONFIG.normalization))


@pytest.fixture(scope="module")
def fine_tuned(checkpoint: Path, tweets: pd.DataFrame) -> tuple[Any, Any]:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model, tokenizer = load_checkpoint(str(checkpoint))
    history = fine_tune_tiny(model, tokenizer, tweets, CONFIG)
    assert np.isfinite(history[0].train_loss) and np.isfinite(history[0].validation_loss)
    return model, tokenizer


@pytest.fixture(scope="module")
def bundle(
    fine_tuned: tuple[Any, Any], tweets: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory
) -> ModelBundle:
    model, tokenizer = fine_tuned
    parity = tweets.iloc[250:500]
    report = build_bundle(
        model,
        tokenizer,
        tmp_path_factory.mktemp("onnx") / "bundle",
        CONFIG,
        parity["text"].tolist(),
        parity["label"].to_numpy(),
        {"model_family": "transformer", "embedding_type": "roberta"},
    )
    assert report.max_abs_diff_fp32 <= 1e-4
    return ModelBundle.load(report.bundle_dir)


def test_the_checkpoint_is_a_bpe_roberta_without_token_type_ids(
    fine_tuned: tuple[Any, Any],
) -> None:
    model, tokenizer = fine_tuned
    assert model.config.model_type == "roberta"
    assert "token_type_ids" not in tokenizer.model_input_names
    ids = tokenizer("Love it")["input_ids"]
    assert ids[0] == tokenizer.bos_token_id and ids[-1] == tokenizer.eos_token_id
    assert tokenizer.pad_token_id == 1  # not BERT's 0


def test_roberta_bundle_serves_raw_tweets_like_pytorch(
    bundle: ModelBundle, fine_tuned: tuple[Any, Any], tweets: pd.DataFrame
) -> None:
    model, tokenizer = fine_tuned
    assert [i.name for i in bundle.scorer.session.get_inputs()] == [  # type: ignore[attr-defined]
        "input_ids",
        "attention_mask",
    ]
    assert bundle.manifest.runtime_options["pad_id"] == 1
    long_tweet = " ".join(["delayed again and again, worst airline"] * 40)
    texts = [*RAW, long_tweet, *tweets["text"].iloc[250:310]]
    p_bundle = bundle.predict_proba(texts)
    expected = probability_positive(
        predict_logits(model, tokenizer, normalize_many(texts, CONFIG.normalization), MAX_LEN)
    )
    assert np.abs(p_bundle - expected).max() <= 1e-4
    assert p_bundle.std() > 0.01  # a model scoring every tweet alike would prove nothing
    # Padded batches and single tweets agree: padding ids and positions are RoBERTa's.
    singly = np.concatenate([bundle.predict_proba([text]) for text in texts[:8]])
    assert np.abs(singly - p_bundle[:8]).max() <= 1e-5
    assert len(bundle.scorer.tokenizer.encode(long_tweet).ids) == MAX_LEN  # type: ignore[attr-defined]


def test_byte_level_bpe_keeps_case(bundle: ModelBundle) -> None:
    tokenizer = bundle.scorer.tokenizer  # type: ignore[attr-defined]
    assert tokenizer.encode("LOVE it").ids != tokenizer.encode("love it").ids


def test_max_len_is_bounded_by_roberta_positions(fine_tuned: tuple[Any, Any]) -> None:
    model, tokenizer = fine_tuned
    assert max_tokens(model, tokenizer) == MAX_LEN
    check_max_len(model, tokenizer, MAX_LEN)
    with pytest.raises(CheckpointError, match=f"at most {MAX_LEN} tokens"):
        check_max_len(model, tokenizer, MAX_LEN + 1)


def test_embedding_type_says_roberta(checkpoint: Path) -> None:
    assert embedding_type_for(str(checkpoint), "roberta") == "roberta"
    assert embedding_type_for("/models/my-checkpoint", "roberta") == "roberta"
