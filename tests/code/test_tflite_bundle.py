"""The Keras path end to end on real tweets: a tiny BiLSTM exported to a builtins-only
TFLite flatbuffer, checked against Keras, and scored through the bundle without TensorFlow;
a Keras-only bundle converted on first load (in a child process, cached) or refused with a
clear message where TensorFlow is missing; then one `badbuzz train lstm` run into an
embedded MLflow store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from badbuzz.bundle.manifest import MANIFEST
from badbuzz.bundle.model import ModelBundle
from badbuzz.bundle.vocabulary import PAD_ID, Vocabulary
from badbuzz.text import NormalizationConfig, normalize_many
from tests.badbuzz_cli import run_badbuzz
from tests.networks import MAX_LEN, tiny_bilstm
from tests.shared_data import REPO, shared_sentiment140

RAW = [
    "@united you lost my bag AGAIN!!! worst airline ever http://t.co/abc",
    "loooove the new seats, thank you &amp; see you soon :)",
    "ok",
    "...",  # normalises to nothing: every id is padding
]


@dataclass
class Exported:
    model: Any  # keras.Model
    vocabulary: Vocabulary
    content: bytes
    ids: np.ndarray
    bundle_dir: Path


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Exported:
    from training.export.tflite import export_tflite, write_tflite_bundle

    network = tiny_bilstm()
    content = export_tflite(network.model, MAX_LEN)
    bundle_dir = write_tflite_bundle(
        tmp_path_factory.mktemp("tflite") / "bundle",
        content,
        network.vocabulary,
        NormalizationConfig(),
        0.5,
        {"model_family": "bilstm"},
    )
    return Exported(network.model, network.vocabulary, content, network.ids, bundle_dir)


def test_conversion_uses_builtin_ops_only(exported: Exported) -> None:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=exported.content)
    ops = {op["op_name"] for op in interpreter._get_ops_details()}
    assert ops, "no ops read from the flatbuffer"
    assert not [op for op in ops if op.startswith("Flex") or op == "CUSTOM"], ops
    (inp,) = interpreter.get_input_details()
    assert inp["shape"].tolist() == [1, MAX_LEN] and inp["dtype"] == np.int32


def test_tflite_scores_like_keras_on_real_and_padded_tweets(exported: Exported) -> None:
    from training.export.tflite import check_parity

    empty = np.full((1, MAX_LEN), PAD_ID, dtype=np.int32)
    ids = np.concatenate([exported.ids, empty])
    lengths = (ids != PAD_ID).sum(axis=1)
    assert lengths.min() == 0 and (lengths <= 5).sum() > 5 and (lengths == MAX_LEN).any()
    difference = check_parity(exported.model, exported.content, exported.vocabulary, ids, 1e-4)
    assert 0.0 <= difference <= 1e-4


def test_parity_check_catches_a_model_that_drifted(exported: Exported) -> None:
    from badbuzz.errors import ParityError
    from training.export.tflite import check_parity

    layer = exported.model.get_layer("p_positive")
    kernel, bias = layer.get_weights()
    layer.set_weights([kernel, bias + 0.5])
    try:
        with pytest.raises(ParityError, match="TFLite and Keras disagree") as failure:
            check_parity(exported.model, exported.content, exported.vocabulary, exported.ids, 1e-4)
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
    expected = exported.model.predict(exported.vocabulary.encode(normalize_many(RAW)), verbose=0)
    np.testing.assert_allclose(p, expected[:, 0], atol=1e-4)
    assert bundle.predict(RAW[:1])[0] in ("negative", "positive")


def test_scoring_a_bundle_never_imports_tensorflow(exported: Exported) -> None:
    script = (
        "import sys; from pathlib import Path; from badbuzz.bundle.model import ModelBundle; "
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


def load_in_child(bundle_dir: Path, home: Path, block_tensorflow: bool = False) -> dict[str, Any]:
    """Load and score a bundle in a fresh interpreter, with the model cache of the settings
    of BADBUZZ_HOME=home; report its runtime, scores, and whether TensorFlow entered that
    process."""
    script = (
        "import importlib.abc, json, sys\n"
        "class NoTensorFlow(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name.split('.')[0] == 'tensorflow': raise ModuleNotFoundError(name)\n"
        f"if {block_tensorflow}: sys.meta_path.insert(0, NoTensorFlow())\n"
        "from pathlib import Path\n"
        "from badbuzz.bundle.model import ModelBundle\n"
        "from badbuzz.errors import BundleError\n"
        "from badbuzz.settings import BadbuzzSettings\n"
        "try:\n"
        "    options = BadbuzzSettings().runtime_options()\n"
        f"    b = ModelBundle.load(Path({str(bundle_dir)!r}), options)\n"
        "except BundleError as error:\n"
        "    print(json.dumps({'error': str(error)})); sys.exit(0)\n"
        f"p = b.predict_proba({RAW!r}).tolist()\n"
        "print(json.dumps({'runtime': b.scorer.runtime, 'p': p,\n"
        "                  'tensorflow': 'tensorflow' in sys.modules}))\n"
    )
    env = {**os.environ, "BADBUZZ_HOME": str(home)}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    answer: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return answer


@pytest.fixture(scope="module")
def keras_bundle(exported: Exported, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from training.export.keras import write_keras_bundle

    return write_keras_bundle(
        tmp_path_factory.mktemp("keras") / "bundle",
        exported.model,
        exported.vocabulary,
        NormalizationConfig(),
        0.5,
        {"model_family": "bilstm"},
    )


def test_a_keras_only_bundle_is_converted_once_and_scores_like_keras(
    exported: Exported, keras_bundle: Path, tmp_path: Path
) -> None:
    from badbuzz.bundle.manifest import Manifest

    assert not (keras_bundle / "model.tflite").exists()
    first = load_in_child(keras_bundle, tmp_path)
    assert first["runtime"] == "ai_edge_litert"
    assert first["tensorflow"] is False, "the conversion runs in a child process"
    ids = exported.vocabulary.encode(normalize_many(RAW))
    keras_p = exported.model.predict(ids, verbose=0)[:, 0]
    np.testing.assert_allclose(first["p"], keras_p, rtol=0, atol=1e-5)

    sha = Manifest.read(keras_bundle).files["model.keras"]
    converted = tmp_path / "model-cache" / "tflite-from-keras" / f"{sha}.tflite"
    assert converted.is_file()
    written = converted.stat().st_mtime_ns
    again = load_in_child(keras_bundle, tmp_path, block_tensorflow=True)
    assert again["p"] == first["p"], "the cached flatbuffer serves with no TensorFlow at all"
    assert converted.stat().st_mtime_ns == written, "not converted a second time"


def test_a_keras_only_bundle_without_tensorflow_says_what_is_missing(
    keras_bundle: Path, tmp_path: Path
) -> None:
    answer = load_in_child(keras_bundle, tmp_path, block_tensorflow=True)
    assert "error" in answer, answer
    message = answer["error"]
    assert "model.keras but no model.tflite" in message
    assert "TensorFlow is not installed" in message
    assert not list(tmp_path.rglob("*.tflite*")), "nothing half-written is left"


def test_train_lstm_command_registers_a_tagged_tflite_version(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    data = shared_sentiment140()
    if not (data / "sample_train.csv.gz").is_file():
        pytest.skip(f"shared Sentiment140 data not found in {data}")
    home = tmp_path / "home"
    result = run_badbuzz(
        *("train", "lstm", "--embedding", "word2vec", "--sample", "600", "--epochs", "1"),
        home=home,
        env={"BADBUZZ_SENTIMENT140": str(data)},
        cwd=tmp_path,
        timeout=240,
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
    # the threshold chosen on validation, as for every family, tagged and logged
    assert run.data.metrics["threshold"] == pytest.approx(float(version.tags["threshold"]))
    assert "manual_positive_precision_at_0.5" in run.data.metrics
    artifacts = {a.path for a in client.list_artifacts(version.run_id)}
    assert {"keras", "embeddings", "plots"} <= artifacts
    assert [m.step for m in client.get_metric_history(version.run_id, "epoch_val_loss")] == [0]
