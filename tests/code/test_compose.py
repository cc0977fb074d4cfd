"""The compose stack cannot run here (no Docker engine): check its wiring instead."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

COMPOSE = Path(__file__).resolve().parents[2] / "compose"


@pytest.fixture(scope="module")
def stack() -> dict[str, Any]:
    return yaml.safe_load((COMPOSE / "docker-compose.yml").read_text())


def test_services_and_start_order(stack: dict[str, Any]) -> None:
    services = stack["services"]
    assert set(services) >= {"postgres", "minio", "minio-init", "mlflow"}
    mlflow_deps = services["mlflow"]["depends_on"]
    assert mlflow_deps["postgres"]["condition"] == "service_healthy"
    assert mlflow_deps["minio-init"]["condition"] == "service_completed_successfully"


def test_mlflow_proxies_artifacts_to_minio_with_postgres_backend(stack: dict[str, Any]) -> None:
    mlflow = stack["services"]["mlflow"]
    assert "--serve-artifacts" in mlflow["command"]
    assert mlflow["environment"]["ARTIFACTS_DESTINATION"].startswith("s3://")
    assert mlflow["environment"]["BACKEND_STORE_URI"].startswith("postgresql+psycopg://")
    assert mlflow["environment"]["MLFLOW_S3_ENDPOINT_URL"] == "http://minio:9000"


def test_no_secret_is_written_in_the_file(stack: dict[str, Any]) -> None:
    secret_keys = re.compile(r"PASSWORD|SECRET|ACCESS_KEY|ROOT_USER")
    for name, service in stack["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if secret_keys.search(key):
                assert str(value).startswith("${"), f"{name}.{key} must come from .env"


def test_env_example_names_every_required_variable(stack: dict[str, Any]) -> None:
    text = (COMPOSE / "docker-compose.yml").read_text()
    required = set(re.findall(r"\$\{(\w+):\?", text))
    example = {
        line.split("=")[0]
        for line in (COMPOSE / ".env.example").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert required and required <= example


def test_the_console_waits_for_a_healthy_api_and_reaches_it_by_name(stack: dict[str, Any]) -> None:
    ui = stack["services"]["ui"]
    assert ui["depends_on"]["api"]["condition"] == "service_healthy"
    assert ui["environment"]["BADBUZZ_API_URL"] == "http://api:8000"
    assert "/_stcore/health" in " ".join(ui["healthcheck"]["test"])
    assert ui["build"]["dockerfile"] == "compose/ui.Dockerfile"
