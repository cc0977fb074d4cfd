"""A tiny BiLSTM (or LSTM, or dense network) trained for one epoch on real shared tweets: the
Keras model the TFLite and Keras-bundle tests export, convert and serve."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest

from badbuzz.bundle.vocabulary import Vocabulary
from badbuzz.text import normalize_many
from tests.shared_data import shared_sentiment140
from training.data.sentiment140 import read_sentiment140
from training.data.split import stratified_sample

if TYPE_CHECKING:
    from training.networks.architectures import Architecture

MAX_LEN = 24


def real_tweets(n: int, seed: int = 0) -> pd.DataFrame:
    path = shared_sentiment140() / "sample_train.csv.gz"
    if not path.is_file():
        pytest.skip(f"shared Sentiment140 data not found at {path}")
    return stratified_sample(read_sentiment140(path), n, seed)


@dataclass
class TinyNetwork:
    model: Any  # keras.Model
    vocabulary: Vocabulary
    ids: np.ndarray  # the training tweets' ids


def tiny_bilstm(tweets: int = 240) -> TinyNetwork:
    return tiny_network("bilstm", tweets)


def tiny_network(architecture: Architecture, tweets: int = 240) -> TinyNetwork:
    """One of the architectures `badbuzz train lstm --architecture` builds (dense, lstm,
    bilstm), on random 16-dimensional word vectors."""
    from training.networks.architectures import NetworkConfig, build_network
    from training.networks.embeddings import WordVectors, embedding_matrix

    frame = real_tweets(tweets)
    texts = normalize_many(frame["text"])
    vocabulary = Vocabulary.build(texts, MAX_LEN, min_count=1)
    matrix = embedding_matrix(vocabulary, WordVectors({}, 16, "random"), seed=0)
    import keras

    keras.utils.set_random_seed(0)
    model = build_network(NetworkConfig(architecture, units=8), matrix, MAX_LEN)
    ids = vocabulary.encode(texts)
    model.fit(ids, frame["label"].to_numpy(), epochs=1, batch_size=32, verbose=0)
    return TinyNetwork(model, vocabulary, ids)
