"""The LiteRT path over HTTP: a TFLite bundle and a Keras-only bundle (converted by the API on
first load, in a child process) served by `badbuzz serve`, scoring like the training side,
with no TensorFlow in the serving process."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from badbuzz.text import NormalizationConfig, normalize_many
from tests.networks import MAX_LEN, TinyNetwork, tiny_bilstm

from .support import Api, manual_tweets, start_apis, stop_all

TENSORFLOW_LIBRARIES = re.compile(r"/site-packages/tensorflow/|libtensorflow_(framework|cc)")


@dataclass
class Served:
    network: TinyNetwork
    tflite_bundle: Path
    apis: dict[str, Api]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    from training.export.keras import write_keras_bundle
    from training.export.tflite import export_tflite, write_tflite_bundle

    network = tiny_bilstm()
    root = tmp_path_factory.mktemp("litert")
    args = (network.vocabulary, NormalizationConfig(), 0.5, {"model_family": "bilstm"})
    tflite_bundle = write_tflite_bundle(
        root / "tflite-bundle", export_tflite(network.model, MAX_LEN), *args
    )
    keras_only = write_keras_bundle(root / "keras-bundle", network.model, *args)
    apis = start_apis(
        (kind, root / f"home-{kind}", root / kind, {"BADBUZZ_MODEL_BUNDLE": str(bundle)})
        for kind, bundle in (("tflite", tflite_bundle), ("keras", keras_only))
    )
    try:
        yield Served(network, tflite_bundle, apis)
    finally:
        stop_all(apis.values())


@pytest.mark.parametrize("kind", ["tflite", "keras"])
def test_served_on_litert_without_tensorflow(served: Served, kind: str) -> None:
    api = served.apis[kind]
    ready = api.client().get("/health/ready")
    assert ready.status_code == 200, ready.text
    card = api.client().get("/model").json()
    assert card["runtime"] == "ai_edge_litert"
    assert card["bundle_runtime"] == kind
    maps = Path(f"/proc/{api.pid}/maps").read_text()
    assert not TENSORFLOW_LIBRARIES.search(maps), "TensorFlow got into the serving process"


@pytest.mark.parametrize("kind", ["tflite", "keras"])
def test_scores_equal_the_keras_model(served: Served, kind: str) -> None:
    tweets = manual_tweets(40)
    response = served.apis[kind].client().post("/predict/batch", json={"texts": tweets})
    assert response.status_code == 200, response.text
    scores = [p["probability_positive"] for p in response.json()["predictions"]]
    ids = served.network.vocabulary.encode(normalize_many(tweets))
    keras_p = served.network.model.predict(ids, verbose=0)[:, 0]
    np.testing.assert_allclose(scores, keras_p, rtol=0, atol=1e-5)
    single = served.apis[kind].client().post("/predict", json={"text": tweets[0]}).json()
    assert single["probability_positive"] == pytest.approx(scores[0], abs=1e-12)


def test_the_keras_bundle_was_converted_once_into_the_home_cache(served: Served) -> None:
    api = served.apis["keras"]
    converted = list((api.home / "model-cache" / "tflite-from-keras").glob("*.tflite"))
    assert len(converted) == 1
    assert converted[0].stat().st_size > 10_000
