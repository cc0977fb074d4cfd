"""The CLI package: a light root, one results table that fits a terminal, one way errors
become exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import get_args

import pytest
from rich.console import Console

from badbuzz.errors import BundleError, DataError, ParityError, RegistryError, UserError
from badbuzz.metric_names import CLIENT_PREFIX, MANUAL_PREFIX, SELECTABLE_METRICS, RankingTag
from cli.tables import results_table
from tests.badbuzz_cli import BARE_ENV, run_badbuzz
from training.tracking.runs import TrainedModel

HEAVY = {
    "numpy", "pandas", "sklearn", "scipy", "mlflow", "tensorflow", "keras", "torch",
    "transformers", "onnxruntime", "fastapi", "uvicorn", "sqlalchemy", "matplotlib", "gensim",
    "training", "api",
}  # fmt: skip


def test_importing_the_cli_root_imports_no_heavy_library() -> None:
    script = "import json, sys, cli; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = {name.split(".")[0] for name in json.loads(done.stdout)}
    assert loaded & HEAVY == set()


def trained(name: str, embedding: str, version: str | None) -> TrainedModel:
    figures = {
        "accuracy": 0.8123,
        "positive_precision": 0.8891,
        "accuracy_at_0.5": 0.8234,
        "positive_precision_at_0.5": 0.7891,
    }
    return TrainedModel(name, "family", embedding, "run", version, figures, figures, 123.4, 0.64)


def test_the_results_table_fits_an_80_column_terminal() -> None:
    results = [trained("transformer", "distilroberta", "128"), trained("logreg", "tfidf", None)]
    console = Console(width=80, record=True, color_system=None)
    console.print(results_table(results, "Trained on 100,000 tweets"))
    lines = console.export_text().splitlines()
    assert max(len(line) for line in lines) <= 80
    text = "\n".join(lines)
    assert "…" not in text  # no header or value cut short
    for word in ("embedding", "thr", "pos", "@0.5", "distilroberta", "0.889", "0.789", "123"):
        assert word in text


def test_every_selectable_metric_can_rank_on_each_test_set() -> None:
    prefixes = ("", MANUAL_PREFIX, CLIENT_PREFIX)
    expected = {prefix + name for prefix in prefixes for name in SELECTABLE_METRICS}
    assert set(get_args(RankingTag)) == expected


@pytest.mark.parametrize(
    ("error", "code"),
    [(DataError, 2), (BundleError, 2), (RegistryError, 2), (ParityError, 1)],
)
def test_each_user_error_has_its_exit_code(error: type[UserError], code: int) -> None:
    assert issubclass(error, UserError)
    assert error("x").exit_code == code


def test_a_user_error_is_one_line_and_its_exit_code(tmp_path: Path) -> None:
    """`badbuzz export` from an empty store: the registry error, no traceback."""
    done = run_badbuzz(
        "export", "--out", f"{tmp_path}/b.tar.gz", home=tmp_path, base_env=BARE_ENV, timeout=120
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines()[-1].startswith(
        "error: cannot fetch models:/tweet-sentiment@champion"
    )
    assert "Traceback" not in done.stderr


def test_torch_threads_are_the_option_else_the_training_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from badbuzz.settings import TrainingSettings
    from cli.train import torch_threads

    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.delenv("BADBUZZ_TORCH_THREADS", raising=False)
    assert torch_threads(None, TrainingSettings()) is None  # PyTorch's default
    monkeypatch.setenv("BADBUZZ_TORCH_THREADS", "3")
    assert torch_threads(None, TrainingSettings()) == 3
    assert torch_threads(5, TrainingSettings()) == 5  # --threads overrides it
    monkeypatch.setenv("BADBUZZ_TORCH_THREADS", "0")
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        TrainingSettings()
