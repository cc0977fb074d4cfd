"""Every family `make demo` registers is served by the API image, which holds `badbuzz/`,
`cli/`, `api/` and `ops/` but no `training/`: its scikit-learn bundle unpickles and scores in a
Python that sees only the Dockerfile's COPY'd files, with `training` impossible to import.
(tests/install/ serves such bundles from the image's real venv; this is the fast check.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import joblib
import pytest

from badbuzz.bundle.model import ModelBundle
from badbuzz.bundle.runtimes.sklearn_lexicon import VaderFeatures
from tests.bundles import demo_families, write_family_bundle
from tests.install.serving_venv import read_recipe, stage

TWEETS = [
    "@united lost my bag again, worst airline ever",
    "thank you for the upgrade, amazing crew!",
    "flight delayed 3 hours and nobody tells us anything :(",
]

# Run in a child: `training` cannot be imported (the dev venv's editable install would find
# the checkout's otherwise), so a pickle naming a class of it fails as it does in the image.
SCORE_WITHOUT_TRAINING = """
import importlib.abc, json, sys
from pathlib import Path

class NoTraining(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "training" or name.startswith("training."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoTraining())
import badbuzz
from badbuzz.bundle.model import ModelBundle
from badbuzz.errors import BundleError

assert Path(badbuzz.__file__).is_relative_to(sys.argv[1]), badbuzz.__file__
tweets = json.loads(sys.argv[2])
scores = {}
for directory in sys.argv[3:]:
    try:
        scores[directory] = ModelBundle.load(Path(directory)).predict_proba(tweets).tolist()
    except BundleError as error:
        scores[directory] = str(error)
assert not [name for name in sys.modules if name.split(".")[0] == "training"]
print(json.dumps(scores))
"""


@pytest.fixture(scope="module")
def image_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What the API image's COPY lines copy: badbuzz/, cli/, api/, ops/ (no training/)."""
    tree = stage(read_recipe(), tmp_path_factory.mktemp("image"))
    assert not (tree / "training").exists()
    return tree


def score_without_training(image_tree: Path, bundles: list[Path]) -> dict[str, object]:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            SCORE_WITHOUT_TRAINING,
            str(image_tree),
            json.dumps(TWEETS),
            *map(str, bundles),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=image_tree,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(image_tree)},
    )
    assert done.returncode == 0, done.stderr
    scores: dict[str, object] = json.loads(done.stdout)
    return scores


@pytest.fixture(scope="module")
def family_bundles(sentiment140_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("families")
    return {family: write_family_bundle(root / family, family) for family in demo_families()}


def test_the_demo_registers_the_lexicon_families() -> None:
    assert {"svm", "vader", "textblob"} <= set(demo_families())


def test_every_demo_family_scores_without_training(
    image_tree: Path, family_bundles: dict[str, Path]
) -> None:
    served = score_without_training(image_tree, list(family_bundles.values()))
    for family, bundle in family_bundles.items():
        trained = ModelBundle.load(bundle).predict_proba(TWEETS)
        assert served[str(bundle)] == pytest.approx(list(trained), abs=1e-9), family


def test_the_svm_pickle_names_the_cores_lexicon_features(family_bundles: dict[str, Path]) -> None:
    pipeline = joblib.load(family_bundles["svm"] / "model.joblib")
    features = dict(pipeline.named_steps["features"].transformer_list)
    assert type(features["lexicon"]).__module__ == "badbuzz.bundle.runtimes.sklearn_lexicon"


def test_a_bundle_pickled_before_the_move_loads_where_training_is_installed(
    image_tree: Path,
    family_bundles: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Bundles pickled before the lexicon estimators moved to the core name
    `training.classical.lexicon`: that name still loads them, and only there."""
    from training.export.sklearn_bundle import write_sklearn_bundle

    new = ModelBundle.load(family_bundles["svm"])
    monkeypatch.setattr(VaderFeatures, "__module__", "training.classical.lexicon")
    old_dir = write_sklearn_bundle(
        tmp_path / "old",
        new.scorer.pipeline,  # type: ignore[attr-defined]
        new.normalization,
        new.threshold,
        new.metadata,
    )
    monkeypatch.undo()
    assert ModelBundle.load(old_dir).predict_proba(TWEETS) == pytest.approx(
        list(new.predict_proba(TWEETS)), abs=1e-9
    )
    refused = score_without_training(image_tree, [old_dir])[str(old_dir)]
    assert "its 'sklearn' runtime needs the 'training' package" in str(refused)
