"""The serving image's install, without Docker: a venv built from exactly the files and the
extra `compose/api.Dockerfile` uses (`serving_venv`) runs `badbuzz` and serves real bundles,
and neither TensorFlow, torch nor pandas is installed in it, let alone imported.

Two installs: `api` (every bundle kind) serves a TFLite bundle and scikit-learn bundles
(TF-IDF + logistic regression; the demo's champion kind, a linear SVM with VADER features
beside its n-grams; the TextBlob lexicon), whose pickles name no class of `training`;
`api-tflite` (the N100 image) serves the TFLite bundle and refuses the scikit-learn one with
a message that says what to install.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from badbuzz.bundle.model import ModelBundle
from tests.install.serving_venv import read_recipe, serving_venv
from tests.networks import MAX_LEN, real_tweets, tiny_bilstm
from tests.processes import Server, free_port

pytestmark = pytest.mark.integration

TRAINING_ONLY = ("training", "pandas", "tensorflow", "keras", "torch", "transformers", "gensim")
SKLEARN_KINDS = ("sklearn", "svm_vader", "textblob")
TWEETS = [
    "@united lost my bag again, worst airline ever",
    "thank you for the upgrade, amazing crew!",
    "flight delayed 3 hours and nobody tells us anything",
]


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """scikit-learn bundles and a TFLite bundle, trained here on real tweets."""
    from badbuzz.text import NormalizationConfig, normalize_many
    from tests.bundles import write_family_bundle
    from training.classical.pipelines import MODELS, build_pipeline
    from training.export.sklearn_bundle import write_sklearn_bundle
    from training.export.tflite import export_tflite, write_tflite_bundle

    root = tmp_path_factory.mktemp("bundles")
    frame = real_tweets(2_000)
    pipeline = build_pipeline(MODELS["logreg"], "tfidf", 2, False, False, seed=0)
    pipeline.fit(normalize_many(frame["text"]), frame["label"])
    network = tiny_bilstm()
    meta = {"model_family": "test"}
    return {
        "sklearn": write_sklearn_bundle(
            root / "sklearn", pipeline, NormalizationConfig(), 0.5, meta
        ),
        "tflite": write_tflite_bundle(
            root / "tflite",
            export_tflite(network.model, MAX_LEN),
            network.vocabulary,
            NormalizationConfig(),
            0.5,
            meta,
        ),
        "svm_vader": write_family_bundle(root / "svm", "svm", tweets=2_000),
        "textblob": write_family_bundle(root / "textblob", "textblob"),
    }


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


def run_in(venv: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd="/",  # nothing of the repo on the path
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )


def test_the_recipe_is_read_from_the_dockerfile() -> None:
    recipe = read_recipe()
    assert recipe.default_extra == "api"
    assert {"badbuzz", "api", "ops", "pyproject.toml"} <= set(recipe.sources)
    assert "training" not in recipe.sources


def test_the_cli_runs_and_no_training_library_is_installed(venv: Path) -> None:
    for args in (("badbuzz", "--help"), ("badbuzz", "serve", "--help")):
        result = run_in(venv, *args)
        assert result.returncode == 0, result.stderr
    probe = "import importlib.util as u, sys; print(*[m for m in sys.argv[1:] if u.find_spec(m)])"
    installed = run_in(venv, "python", "-c", probe, *TRAINING_ONLY)
    assert installed.returncode == 0, installed.stderr
    assert installed.stdout.split() == []


@pytest.mark.parametrize(("command", "extra"), [("evaluate", "train"), ("console", "ui")])
def test_a_command_of_another_role_says_which_extra_it_needs(
    venv: Path, command: str, extra: str
) -> None:
    result = run_in(venv, "badbuzz", command)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"install badbuzz[{extra}]" in result.stderr.splitlines()[-1]


@pytest.mark.parametrize("kind", ["tflite", *SKLEARN_KINDS])
def test_serves_a_bundle_like_training_scores_it(
    venv: Path, bundles: dict[str, Path], serve: Callable[[Path | None], Served], kind: str
) -> None:
    if kind in SKLEARN_KINDS and venv.name.startswith("api-tflite"):
        pytest.skip("the TFLite-only install refuses scikit-learn bundles (next test)")
    served = serve(bundles[kind])
    assert served.get("/health/ready").status_code == 200, served.server.logs()
    card = served.get("/model").json()
    assert card["runtime"] == ("sklearn" if kind in SKLEARN_KINDS else "ai_edge_litert")
    answer = httpx.post(served.server.url + "/predict/batch", json={"texts": TWEETS}, timeout=30)
    assert answer.status_code == 200, answer.text
    served_p = [p["probability_positive"] for p in answer.json()["predictions"]]
    trained = ModelBundle.load(bundles[kind]).predict_proba(TWEETS)
    assert served_p == pytest.approx(list(trained), abs=1e-6)
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


def test_the_tflite_install_says_what_a_scikit_learn_bundle_needs(
    venv: Path, bundles: dict[str, Path], serve: Callable[[Path | None], Served]
) -> None:
    if not venv.name.startswith("api-tflite"):
        pytest.skip("only the TFLite-only install lacks scikit-learn")
    served = serve(bundles["sklearn"])
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
