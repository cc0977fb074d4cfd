"""The Keras path end to end on real tweets: a tiny BiLSTM exported to a builtins-only
TFLite flatbuffer, checked against Keras, and scored through the bundle without TensorFlow;
then one `badbuzz train lstm` run into an embedded MLflow store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.conftest import REPO, shared_sentiment140
from training.bundle import MANIFEST, ModelBundle
from training.data import read_sentiment140
from training.split import stratified_sample
from training.text import NormalizationConfig, normalize_many
from training.tokenizer import PAD_ID, Tokenizer

RAW = [
    "@united you lost my bag AGAIN!!! worst airline ever http://t.co/abc",
    "loooove the new seats, thank you &amp; see you soon :)",
    "ok",
    "...",  # normalises to nothing: every id is padding
]
MAX_LEN = 24


def real_tweets(n: int, seed: int = 0) -> pd.DataFrame:
    path = shared_sentiment140() / "sample_train.csv.gz"
    if not path.is_file():
        pytest.skip(f"shared Sentiment140 data not found at {path}")
    return stratified_sample(read_sentiment140(path), n, seed)


@dataclass
class Exported:
    model: Any  # keras.Model
    tokenizer: Tokenizer
    content: bytes
    ids: np.ndarray
    bundle_dir: Path


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Exported:
    from training.embeddings import WordVectors, embedding_matrix
    from training.networks import NetworkConfig, build_network
    from training.runtimes.tflite import export_tflite, write_bundle

    tweets = real_tweets(240)
    texts = normalize_many(tweets["text"])
    tokenizer = Tokenizer.build(texts, MAX_LEN, min_count=1)
    matrix = embedding_matrix(tokenizer, WordVectors({}, 16, "random"), seed=0)
    import keras

    keras.utils.set_random_seed(0)
    model = build_network(NetworkConfig("bilstm", units=8), matrix, MAX_LEN)
    ids = tokenizer.encode(texts)
    model.fit(ids, tweets["label"].to_numpy(), epochs=1, batch_size=32, verbose=0)
    content = export_tflite(model, MAX_LEN)
    bundle_dir = write_bundle(
        tmp_path_factory.mktemp("tflite") / "bundle",
        content,
        tokenizer,
        NormalizationConfig(),
        0.5,
        {"model_family": "bilstm"},
    )
    return Exported(model, tokenizer, content, ids, bundle_dir)


def test_conversion_uses_builtin_ops_only(exported: Exported) -> None:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=exported.content)
    ops = {op["op_name"] for op in interpreter._get_ops_details()}
    assert ops, "no ops read from the flatbuffer"
    assert not [op for op in ops if op.startswith("Flex") or op == "CUSTOM"], ops
    (inp,) = interpreter.get_input_details()
    assert inp["shape"].tolist() == [1, MAX_LEN] and inp["dtype"] == np.int32


def test_tflite_scores_like_keras_on_real_and_padded_tweets(exported: Exported) -> None:
    from training.runtimes.tflite import check_parity

    empty = np.full((1, MAX_LEN), PAD_ID, dtype=np.int32)
    ids = np.concatenate([exported.ids, empty])
    lengths = (ids != PAD_ID).sum(axis=1)
    assert lengths.min() == 0 and (lengths <= 5).sum() > 5 and (lengths == MAX_LEN).any()
    difference = check_parity(exported.model, exported.content, exported.tokenizer, ids, 1e-4)
    assert 0.0 <= difference <= 1e-4


def test_parity_check_catches_a_model_that_drifted(exported: Exported) -> None:
    from training.runtimes.tflite import ParityError, check_parity

    layer = exported.model.get_layer("p_positive")
    kernel, bias = layer.get_weights()
    layer.set_weights([kernel, bias + 0.5])
    try:
        with pytest.raises(ParityError, match="TFLite and Keras disagree") as failure:
            check_parity(exported.model, exported.content, exported.tokenizer, exported.ids, 1e-4)
        assert failure.value.difference > 1e-4
    finally:
        layer.set_weights([kernel, bias])


def test_bundle_scores_raw_tweets_like_keras(exported: Exported) -> None:
    bundle = ModelBundle.load(exported.bundle_dir)
    assert bundle.scorer.runtime == "ai_edge_litert"
    manifest = json.loads((exported.bundle_dir / MANIFEST).read_text())
    assert manifest["runtime"] == "tflite"
    assert manifest["runtime_options"]["max_len"] == MAX_LEN
    assert set(manifest["files"]) == {"model.tflite", "vocab.json"}
    p = bundle.predict_proba(RAW)
    expected = exported.model.predict(exported.tokenizer.encode(normalize_many(RAW)), verbose=0)
    np.testing.assert_allclose(p, expected[:, 0], atol=1e-4)
    assert bundle.predict(RAW[:1])[0] in ("negative", "positive")


def test_scoring_a_bundle_never_imports_tensorflow(exported: Exported) -> None:
    script = (
        "import sys; from pathlib import Path; from training.bundle import ModelBundle; "
        f"b = ModelBundle.load(Path({str(exported.bundle_dir)!r})); "
        f"p = b.predict_proba({RAW!r}); "
        "assert len(p) == 4 and ((p >= 0) & (p <= 1)).all(), p; "
        "print(b.scorer.runtime); "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "ai_edge_litert"


def test_train_lstm_command_registers_a_tagged_tflite_version(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    data = shared_sentiment140()
    if not (data / "sample_train.csv.gz").is_file():
        pytest.skip(f"shared Sentiment140 data not found in {data}")
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "BADBUZZ_"))}
    env.update(BADBUZZ_HOME=str(home), BADBUZZ_SENTIMENT140=str(data))
    command = [
        str(Path(sys.executable).parent / "badbuzz"),
        *("train", "lstm", "--embedding", "word2vec", "--sample", "600", "--epochs", "1"),
    ]
    result = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]

    uri = f"sqlite:///{home / 'mlflow' / 'mlflow.db'}"
    client = MlflowClient(uri, uri)
    (version,) = client.search_model_versions("name='tweet-sentiment'")
    assert version.tags["model_family"] == "lstm"
    assert version.tags["embedding_type"] == "word2vec"
    assert 0.0 <= float(version.tags["manual_accuracy"]) <= 1.0
    run = client.get_run(version.run_id)
    assert run.data.metrics["tflite_parity_max_abs_diff"] <= 1e-4
    artifacts = {a.path for a in client.list_artifacts(version.run_id)}
    assert {"keras", "embeddings", "plots"} <= artifacts
    assert [m.step for m in client.get_metric_history(version.run_id, "epoch_val_loss")] == [0]
