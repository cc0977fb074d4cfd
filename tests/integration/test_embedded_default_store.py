"""With no MLFLOW_TRACKING_URI the CLI uses the embedded store under BADBUZZ_HOME."""

from __future__ import annotations

from pathlib import Path

import pytest

from .support import Cli

pytestmark = pytest.mark.integration


def test_train_and_promote_use_the_embedded_store(sentiment140: Path, tmp_path: Path) -> None:
    cli = Cli(tmp_path / "home", sentiment140)
    assert "MLFLOW_TRACKING_URI" not in cli.env

    for args in (
        ("train", "baseline", "--models", "logreg", "--sample", "2000"),
        ("promote",),
    ):
        result = cli(*args)
        assert result.returncode == 0, cli.explain(result)

    store = cli.home / "mlflow"
    assert (store / "mlflow.db").is_file()
    manifests = list((store / "artifacts").rglob("manifest.json"))
    assert manifests, f"no bundle manifest under {store / 'artifacts'}"
    assert "@champion -> tweet-sentiment version 1" in " ".join(result.stdout.split())
