"""Expectations on the real data the project trains and evaluates on."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from badbuzz.settings import TrainingSettings
from training.data.sentiment140 import binary, read_sentiment140
from training.data.sources import locate_manual_test, locate_training


@pytest.fixture(scope="module")
def train(sentiment140_dir: Path) -> pd.DataFrame:
    return read_sentiment140(sentiment140_dir / "sample_train.csv.gz")


@pytest.fixture(scope="module")
def manual(sentiment140_dir: Path) -> pd.DataFrame:
    return read_sentiment140(sentiment140_dir / "testdata.manual.2009.06.14.csv", keep_neutral=True)


def test_training_subset_counts(train: pd.DataFrame) -> None:
    assert len(train) == 125_482
    assert train["label"].value_counts().to_dict() == {0: 63_520, 1: 61_962}
    assert train["text"].str.strip().str.len().min() > 0


def test_manual_test_set_counts(manual: pd.DataFrame) -> None:
    assert manual["polarity"].value_counts().to_dict() == {4: 182, 0: 177, 2: 139}
    assert len(binary(manual)) == 359


def test_mojibake_is_repaired(train: pd.DataFrame) -> None:
    # UTF-8 curly quotes read as latin-1 show up as "\xe2\x80\x99". 11 tweets lost bytes to
    # "?" in the original file; they are not valid UTF-8 and stay as they are.
    assert train["text"].str.contains("\u2019", regex=False).sum() == 36
    assert train["text"].str.contains("\xe2\x80", regex=False).sum() == 11


def test_folder_setting_finds_both_files(sentiment140_dir: Path) -> None:
    settings = TrainingSettings(sentiment140=sentiment140_dir, home=Path("/nonexistent"))
    assert locate_training(settings).path.name == "sample_train.csv.gz"
    assert locate_manual_test(settings).path.name == "testdata.manual.2009.06.14.csv"
