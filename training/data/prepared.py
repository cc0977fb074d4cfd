"""The data of one training run: the split of the training file, the manual test set, its
content hash, and the client's labelled export when there is one."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from badbuzz.errors import DataError
from badbuzz.settings import TrainingSettings
from badbuzz.text import NormalizationConfig, normalize_many
from training.data.client import ClientData, ClientSource, read_client
from training.data.sentiment140 import binary, data_hash, read_sentiment140
from training.data.sources import DataFile, locate_manual_test, locate_training
from training.data.split import Split, split_dataset, stratified_sample

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedData:
    source: DataFile
    manual_source: DataFile
    split: Split
    manual: pd.DataFrame  # with neutral rows (label -1), for the 3-class report
    data_hash: str
    client: ClientData | None = None  # `--eval-data`: scored, never trained on

    @property
    def manual_binary(self) -> pd.DataFrame:
        return binary(self.manual)


def prepare_data(
    settings: TrainingSettings,
    data: Path | None,
    manual: Path | None,
    sample: int | None,
    seed: int,
    client: ClientSource | None = None,
) -> PreparedData:
    """Read (and check) the client's export if any, the training file, then the manual
    test set: given, else beside the training file, else where the settings say."""
    client_data = read_client(client) if client is not None else None
    source = locate_training(settings, data)
    frame = read_sentiment140(source.path, member=source.member)
    if sample:
        frame = stratified_sample(frame, sample, seed)
    log.info("read %d tweets from %s", len(frame), source)
    try:
        manual_source = locate_manual_test(settings, manual or source.path)
    except DataError:
        if manual:
            raise
        manual_source = locate_manual_test(settings)
    manual_frame = read_sentiment140(
        manual_source.path, member=manual_source.member, keep_neutral=True
    )
    return PreparedData(
        source,
        manual_source,
        split_dataset(frame, seed),
        manual_frame,
        data_hash(frame),
        client_data,
    )


class NormalizedTexts:
    """Normalises each part of the data once per normalisation config."""

    def __init__(self, data: PreparedData) -> None:
        self._data = data
        self._cache: dict[tuple[str, NormalizationConfig], list[str]] = {}

    def get(self, part: str, config: NormalizationConfig) -> list[str]:
        key = (part, config)
        if key not in self._cache:
            frame = self._data.manual if part == "manual" else getattr(self._data.split, part)
            self._cache[key] = normalize_many(frame["text"], config)
        return self._cache[key]
