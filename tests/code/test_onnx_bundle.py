"""The transformer path end to end on a tiny random BERT: fine-tune on real tweets, export to
ONNX, check parity with PyTorch, and score raw tweets through the bundle without torch."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from badbuzz.bundle.manifest import MANIFEST
from badbuzz.bundle.model import ModelBundle
from badbuzz.errors import ParityError
from badbuzz.text import normalize_many
from tests.shared_data import REPO, shared_sentiment140
from training.data.sentiment140 import read_sentiment140
from training.data.split import stratified_sample
from training.transformer.checkpoint import default_checkpoint, embedding_type_for
from training.transformer.fine_tuning import (
    EpochStats,
    LogMetrics,
    TransformerConfig,
    build_bundle,
    fine_tune,
    load_checkpoint,
    predict_logits,
    probability_positive,
)

INIT_RANGE = 0.2
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
RAW = [
    "@united you lost my bag AGAIN!!! worst airline ever http://t.co/abc",
    "loooove the new seats, thank you &amp; see you soon :)",
    "ok",
    "Delayed 3 hours in Denver 😡 #fail",
    "...",  # normalises to nothing: only the special tokens are left
]


def real_tweets(n: int, seed: int = 0) -> pd.DataFrame:
    path = shared_sentiment140() / "sample_train.csv.gz"
    if not path.is_file():
        pytest.skip(f"shared Sentiment140 data not found at {path}")
    return stratified_sample(read_sentiment140(path), n, seed)


def build_tiny_checkpoint(directory: Path, texts: list[str]) -> Path:
    """A randomly initialised 2-layer BERT and a WordPiece tokenizer trained on `texts`,
    saved as a Hugging Face checkpoint directory."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from tokenizers.trainers import WordPieceTrainer
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    tokenizer.train_from_iterator(
        texts, WordPieceTrainer(vocab_size=800, special_tokens=SPECIAL_TOKENS)
    )
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=128,
    ).save_pretrained(directory)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tokenizer.get_vocab_size(),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        num_labels=2,
        # Wide initial weights so scores spread over (0, 1): a parity check on a model
        # that says 0.5 to every tweet would prove nothing.
        initializer_range=INIT_RANGE,
    )
    BertForSequenceClassification(config).save_pretrained(directory)
    return directory


CONFIG = TransformerConfig(epochs=1, batch_size=32, max_len=48, learning_rate=1e-3, log_every=2)


@pytest.fixture(scope="module")
def tweets() -> pd.DataFrame:
    return real_tweets(500)


def fine_tune_tiny(
    model: Any,
    tokenizer: Any,
    tweets: pd.DataFrame,
    config: TransformerConfig,
    log_metrics: LogMetrics | None = None,
) -> list[EpochStats]:
    """Fine-tune a tiny checkpoint on CPU: tweets 0-199 to train, 200-249 to validate."""
    train, validation = tweets.iloc[:200], tweets.iloc[200:250]
    return fine_tune(
        model,
        tokenizer,
        normalize_many(train["text"], config.normalization),
        train["label"].to_numpy(),
        normalize_many(validation["text"], config.normalization),
        validation["label"].to_numpy(),
        config,
        torch.device("cpu"),
        log_metrics=log_metrics,
    )


@pytest.fixture(scope="module")
def fine_tuned(tweets: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    checkpoint = build_tiny_checkpoint(
        tmp_path_factory.mktemp("tiny-bert"), tweets["text"].tolist()
    )
    torch.manual_seed(0)
    model, tokenizer = load_checkpoint(str(checkpoint))
    logged: list[tuple[dict[str, float], int]] = []
    before = [p.detach().clone() for p in model.parameters()]
    history = fine_tune_tiny(
        model, tokenizer, tweets, CONFIG, lambda metrics, step: logged.append((metrics, step))
    )
    assert len(history) == 1 and np.isfinite(history[0].validation_loss)
    assert 0.0 <= history[0].validation_accuracy <= 1.0
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    epoch_points = [(m, s) for m, s in logged if "epoch_validation_loss" in m]
    assert [s for _, s in epoch_points] == [1]
    assert any("train_loss" in m for m, _ in logged)
    return model, tokenizer


@pytest.fixture(scope="module")
def bundle_dir(
    fine_tuned: tuple[Any, Any], tweets: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    model, tokenizer = fine_tuned
    parity = tweets.iloc[200:500]  # 300 real tweets the model did not train on
    report = build_bundle(
        model,
        tokenizer,
        tmp_path_factory.mktemp("onnx") / "bundle",
        CONFIG,
        parity["text"].tolist(),
        parity["label"].to_numpy(),
        {"model_family": "transformer"},
    )
    assert report.parity_tweets == 300
    assert report.max_abs_diff_fp32 <= 1e-4
    assert report.max_abs_diff_int8 is None
    return report.bundle_dir


def test_bundle_scores_raw_tweets_like_pytorch(
    bundle_dir: Path, fine_tuned: tuple[Any, Any], tweets: pd.DataFrame
) -> None:
    model, tokenizer = fine_tuned
    bundle = ModelBundle.load(bundle_dir)
    assert bundle.manifest.runtime == "onnx" and bundle.scorer.runtime == "onnxruntime"
    assert bundle.manifest.runtime_options["max_len"] == CONFIG.max_len
    assert bundle.manifest.runtime_options["pad_id"] == tokenizer.pad_token_id
    assert set(bundle.manifest.files) == {"model.onnx", "tokenizer.json"}
    texts = [*RAW, *tweets["text"].iloc[250:310]]
    p_bundle = bundle.predict_proba(texts)
    expected = probability_positive(
        predict_logits(model, tokenizer, normalize_many(texts, CONFIG.normalization), 48)
    )
    assert p_bundle.shape == (len(texts),)
    assert np.abs(p_bundle - expected).max() <= 1e-4
    # One at a time (no padding, other sequence lengths) scores the same as in a batch.
    singly = np.concatenate([bundle.predict_proba([text]) for text in texts[:8]])
    assert np.abs(singly - p_bundle[:8]).max() <= 1e-5
    assert bundle.predict(RAW[:2]) == [
        bundle.manifest.labels[str(int(p >= 0.5))] for p in p_bundle[:2]
    ]
    assert bundle.predict_proba([]).shape == (0,)


def test_long_tweets_are_truncated_to_max_len(bundle_dir: Path) -> None:
    bundle = ModelBundle.load(bundle_dir)
    long_tweet = " ".join(["delayed again and again"] * 60)
    assert np.isfinite(bundle.predict_proba([long_tweet])).all()
    encoding = bundle.scorer.tokenizer.encode(long_tweet)  # type: ignore[attr-defined]
    assert len(encoding.ids) == CONFIG.max_len


def test_quantized_bundle_carries_only_the_int8_model(
    fine_tuned: tuple[Any, Any], tweets: pd.DataFrame, tmp_path: Path
) -> None:
    model, tokenizer = fine_tuned
    config = TransformerConfig(max_len=48, quantize=True)
    parity = tweets.iloc[200:500]
    report = build_bundle(
        model,
        tokenizer,
        tmp_path / "int8",
        config,
        parity["text"].tolist(),
        parity["label"].to_numpy(),
    )
    assert report.max_abs_diff_fp32 <= 1e-4
    assert report.max_abs_diff_int8 is not None and report.accuracy_delta_int8 is not None
    assert {"parity_max_abs_diff_int8", "parity_accuracy_delta_int8"} <= set(report.metrics())
    manifest = json.loads((report.bundle_dir / MANIFEST).read_text())
    assert manifest["model_file"] == "model.int8.onnx"
    assert set(manifest["files"]) == {"model.int8.onnx", "tokenizer.json"}
    assert manifest["metadata"]["quantized"] is True
    p = ModelBundle.load(report.bundle_dir).predict_proba(RAW)
    assert ((p >= 0) & (p <= 1)).all()


def test_a_wrong_export_fails_the_parity_check(
    fine_tuned: tuple[Any, Any], tweets: pd.DataFrame, tmp_path: Path, monkeypatch: Any
) -> None:
    from training.export.onnx import export_onnx
    from training.transformer import fine_tuning as transformer

    model, tokenizer = fine_tuned
    drifted = copy.deepcopy(model)
    with torch.no_grad():
        drifted.classifier.bias += torch.tensor([0.5, -0.5])

    monkeypatch.setattr(
        transformer, "export_onnx", lambda _m, names, path: export_onnx(drifted, names, path)
    )
    parity = tweets.iloc[200:500]
    with pytest.raises(ParityError, match="scores differently from PyTorch"):
        build_bundle(
            model,
            tokenizer,
            tmp_path / "bad",
            CONFIG,
            parity["text"].tolist(),
            parity["label"].to_numpy(),
        )
    assert not (tmp_path / "bad").exists()  # nothing left that could be registered


def test_scoring_an_onnx_bundle_imports_neither_torch_nor_transformers(bundle_dir: Path) -> None:
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from badbuzz.bundle.model import ModelBundle\n"
        f"bundle = ModelBundle.load(Path({str(bundle_dir)!r}))\n"
        f"p = bundle.predict_proba({RAW!r})\n"
        "assert len(p) == 5, p\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'transformers', 'tensorflow'))\n"
        "assert not heavy, heavy[:5]\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_embedding_type_comes_from_the_checkpoint_name_or_model_type() -> None:
    assert embedding_type_for(str(default_checkpoint()), "bert") == "minilm"
    assert embedding_type_for("distilbert-base-uncased", "distilbert") == "distilbert"
    assert embedding_type_for("cardiffnlp/twitter-roberta-base", "roberta") == "roberta"
    assert embedding_type_for("/tmp/tiny-bert", "bert") == "bert"
    assert (default_checkpoint() / "tokenizer.json").is_file()
