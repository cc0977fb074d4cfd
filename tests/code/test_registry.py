from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from badbuzz.errors import RegistryError
from badbuzz.registry import best_version, rank_versions, set_alias

NAME = "tweet-sentiment"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[MlflowClient]:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(uri, uri)
    client.create_registered_model(NAME)
    for tags in (
        {"precision": "0.80", "recall": "0.81", "embedding_type": "tfidf"},
        {"precision": "0.90", "recall": "0.20", "embedding_type": "lexicon"},
        {"precision": "0.85", "recall": "0.70", "embedding_type": "bow"},
        {"precision": "nan", "recall": "0.9", "embedding_type": "tfidf"},
        {"embedding_type": "tfidf"},
    ):
        client.create_model_version(NAME, source=str(tmp_path), tags=tags)
    yield client
    mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
    mlflow.set_registry_uri(None)  # type: ignore[arg-type]


def test_ranking_by_metric_with_recall_floor_and_filter(client: MlflowClient) -> None:
    assert [c.version for c in rank_versions(client, NAME, "precision")] == ["2", "3", "1"]
    ranked = rank_versions(client, NAME, "precision", min_recall=0.5)
    assert [(c.version, c.score) for c in ranked] == [("3", 0.85), ("1", 0.80)]
    only_tfidf = rank_versions(client, NAME, "precision", embedding_type="tfidf")
    assert [c.version for c in only_tfidf] == ["1"]


def test_alias_moves_to_best(client: MlflowClient) -> None:
    best = best_version(client, NAME, "precision", min_recall=0.5)
    set_alias(client, NAME, best.version)
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == "3"


def test_nothing_to_rank_says_what_to_do(client: MlflowClient) -> None:
    with pytest.raises(RegistryError, match="badbuzz train baseline"):
        best_version(client, NAME, "precision", embedding_type="word2vec")
