"""Deterministic, stratified sampling and train/validation/test splits."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sklearn.model_selection import train_test_split


@dataclass(frozen=True)
class Split:
    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame


def stratified_sample(frame: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """`n` rows with the class balance of `frame` (all of it when `n` >= its size)."""
    if n >= len(frame):
        return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    sample, _ = train_test_split(frame, train_size=n, stratify=frame["label"], random_state=seed)
    return sample.reset_index(drop=True)


def split_dataset(
    frame: pd.DataFrame, seed: int, validation_size: float = 0.1, test_size: float = 0.1
) -> Split:
    """Shuffle and split, stratified on the label; the same seed gives the same split."""
    rest, test = train_test_split(
        frame, test_size=test_size, stratify=frame["label"], random_state=seed
    )
    train, validation = train_test_split(
        rest,
        test_size=validation_size / (1 - test_size),
        stratify=rest["label"],
        random_state=seed,
    )
    return Split(*(part.reset_index(drop=True) for part in (train, validation, test)))
