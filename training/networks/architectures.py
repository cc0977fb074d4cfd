"""Keras 3 networks over token ids: a dense baseline (average of word vectors), an LSTM and
a BiLSTM. Each ends in one sigmoid unit, the probability that the tweet is positive."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    import keras

Architecture = Literal["dense", "lstm", "bilstm"]
ARCHITECTURES: tuple[Architecture, ...] = ("dense", "lstm", "bilstm")


@dataclass(frozen=True)
class NetworkConfig:
    architecture: Architecture = "bilstm"
    units: int = 64  # LSTM units per direction, or the dense baseline's hidden layer
    dropout: float = 0.5  # 0.3 overfit from the 2nd epoch on the 100k-tweet shared subset
    trainable_embedding: bool = True
    learning_rate: float = 5e-4

    def params(self) -> dict[str, Any]:
        return asdict(self)


def build_network(config: NetworkConfig, embedding: np.ndarray, max_len: int) -> keras.Model:
    """A compiled model taking int32 ids [batch, max_len] (0 = padding, masked)."""
    import keras
    from keras import layers

    if config.architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {config.architecture!r}: one of {ARCHITECTURES}")
    ids = keras.Input(shape=(max_len,), dtype="int32", name="ids")
    x = layers.Embedding(
        embedding.shape[0],
        embedding.shape[1],
        weights=[embedding],
        mask_zero=True,
        trainable=config.trainable_embedding,
        name="embedding",
    )(ids)
    # Whole word vectors dropped, not single coordinates: neighbouring coordinates of one
    # word carry the same information, so per-coordinate dropout barely regularises.
    x = layers.SpatialDropout1D(config.dropout)(x)
    if config.architecture == "dense":
        x = layers.GlobalAveragePooling1D()(x)
        x = layers.Dense(config.units, activation="relu")(x)
    elif config.architecture == "lstm":
        x = layers.LSTM(config.units)(x)
    else:
        x = layers.Bidirectional(layers.LSTM(config.units))(x)
    x = layers.Dropout(config.dropout)(x)
    p_positive = layers.Dense(1, activation="sigmoid", name="p_positive")(x)
    model = keras.Model(ids, p_positive, name=config.architecture)
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss="binary_crossentropy",
        metrics=["accuracy", keras.metrics.AUC(name="auc")],
    )
    return model
