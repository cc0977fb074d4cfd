"""Shared fixtures: where the real Sentiment140 files are (../shared/data beside the repo)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_sentiment140() -> Path:
    configured = os.environ.get("BADBUZZ_SENTIMENT140")
    return (
        Path(configured).resolve()
        if configured
        else REPO.parent / "shared" / "data" / "sentiment140"
    )


@pytest.fixture(scope="session")
def sentiment140_dir() -> Path:
    folder = shared_sentiment140()
    if not (folder / "sample_train.csv.gz").is_file():
        pytest.skip(f"shared Sentiment140 data not found in {folder}")
    return folder
