from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from badbuzz.errors import RegistryError
from badbuzz.metric_names import DEFAULT_FLOOR, KPI, tag_value
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
        {"positive_precision": "0.80", "positive_recall": "0.81", "embedding_type": "tfidf"},
        # the degenerate one: precise because it calls almost nothing positive
        {"positive_precision": "0.90", "positive_recall": "0.20", "embedding_type": "lexicon"},
        {"positive_precision": "0.85", "positive_recall": "0.70", "embedding_type": "bow"},
        {"positive_precision": "nan", "positive_recall": "0.9", "embedding_type": "tfidf"},
        {"embedding_type": "tfidf"},
        # registered before the names said their class: negative-class tags, no positive ones
        {"precision": "0.95", "recall": "0.60", "embedding_type": "tfidf"},
    ):
        client.create_model_version(NAME, source=str(tmp_path), tags=tags)
    yield client
    mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
    mlflow.set_registry_uri(None)  # type: ignore[arg-type]


def test_ranking_by_metric_with_positive_recall_floor_and_filter(client: MlflowClient) -> None:
    assert [c.version for c in rank_versions(client, NAME, KPI)] == ["2", "3", "1"]
    ranked = rank_versions(client, NAME, KPI, min_positive_recall=0.5)
    assert [(c.version, c.score) for c in ranked] == [("3", 0.85), ("1", 0.80)]
    assert [c.positive_recall for c in ranked] == [0.70, 0.81]
    only_tfidf = rank_versions(client, NAME, KPI, embedding_type="tfidf")
    assert [c.version for c in only_tfidf] == ["1"]


def test_old_versions_rank_by_new_names_through_their_old_tags(client: MlflowClient) -> None:
    ranked = rank_versions(client, NAME, "negative_precision")
    assert [(c.version, c.score) for c in ranked] == [("6", 0.95)]
    # an old name given to rank by means the same metric, on old and new versions alike
    assert rank_versions(client, NAME, "precision") == ranked
    # no positive_recall on an old version: a floor keeps it out
    assert rank_versions(client, NAME, "negative_precision", min_positive_recall=0.5) == []


def test_a_challenger_the_retrain_gate_refused_is_never_ranked(client: MlflowClient) -> None:
    refused = {"positive_precision": "0.99", "positive_recall": "0.9", "gate_decision": "refused"}
    client.create_model_version(NAME, source="refused", tags=refused)
    assert [c.version for c in rank_versions(client, NAME, KPI, min_positive_recall=0.5)] == [
        "3",
        "1",
    ]


def test_ranking_on_the_clients_tweets_keeps_the_floor_on_the_clients_positives(
    client: MlflowClient,
) -> None:
    for tags in (
        # the best held-out recall, but it misses most of the client's positive tweets
        {"client_accuracy": "0.90", "client_positive_recall": "0.30", "positive_recall": "0.9"},
        {"client_accuracy": "0.85", "client_positive_recall": "0.80", "positive_recall": "0.6"},
        {"client_accuracy": "0.80", "client_positive_recall": "0.85", "positive_recall": "0.2"},
    ):
        client.create_model_version(NAME, source="client", tags=tags)
    ranked = rank_versions(client, NAME, "client_accuracy", min_positive_recall=DEFAULT_FLOOR)
    assert [(c.version, c.score, c.positive_recall) for c in ranked] == [
        ("8", 0.85, 0.80),
        ("9", 0.80, 0.85),
    ]
    with pytest.raises(RegistryError, match=r"client_positive_recall >= 0\.9"):
        best_version(client, NAME, "client_accuracy", min_positive_recall=0.9)


def test_alias_moves_to_best(client: MlflowClient) -> None:
    best = best_version(client, NAME, KPI, min_positive_recall=DEFAULT_FLOOR)
    set_alias(client, NAME, best.version)
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == "3"


def test_nothing_to_rank_says_what_to_do(client: MlflowClient) -> None:
    with pytest.raises(RegistryError, match="badbuzz train baseline"):
        best_version(client, NAME, KPI, embedding_type="word2vec")


def test_old_tags_read_as_the_metric_that_replaced_them() -> None:
    old = {"precision": "0.7", "recall": "0.6", "manual_f1": "0.5", "roc_auc": "0.9"}
    assert tag_value(old, "negative_precision") == 0.7
    assert tag_value(old, "negative_recall") == 0.6
    assert tag_value(old, "manual_negative_f1") == 0.5
    assert tag_value(old, "roc_auc") == 0.9
    assert tag_value(old, "positive_precision") is None  # never logged before: not guessed
    # a version with both reads the new tag
    assert tag_value({"precision": "0.7", "negative_precision": "0.8"}, "negative_precision") == 0.8
    assert tag_value({"negative_recall": "nan"}, "negative_recall") is None


def test_mlflow_http_sets_retries_and_timeout_for_its_calls_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from badbuzz.registry import mlflow_http

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "120")
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", raising=False)

    with mlflow_http(retries=0, timeout_s=2.5):
        assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "0"
        assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "3"

    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "120"  # the caller's, back
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ
