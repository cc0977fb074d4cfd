"""compose/mlflow/create_reader.py against `mlflow server --app-name basic-auth` as compose
runs it (tests/mlflow_auth.py): the API's MLflow user reads and cannot change anything."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.mlflow_auth import ADMIN, start_mlflow_with_basic_auth
from tests.processes import Server, clean_env

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).resolve().parents[2] / "compose" / "mlflow" / "create_reader.py"
READER = "badbuzz-api"


@pytest.fixture(scope="module")
def mlflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("mlflow")
    server = start_mlflow_with_basic_auth(
        f"sqlite:///{root / 'mlflow.db'}", str(root / "artifacts"), root / "server"
    )
    yield server
    server.stop()


def create_reader(
    mlflow: Server, password: str, user: str = READER
) -> subprocess.CompletedProcess[str]:
    env = clean_env({
        "MLFLOW_TRACKING_URI": mlflow.url,
        "MLFLOW_TRACKING_USERNAME": ADMIN[0],
        "MLFLOW_TRACKING_PASSWORD": ADMIN[1],
        "MLFLOW_READER_USER": user,
        "MLFLOW_READER_PASSWORD": password,
    })  # fmt: skip
    return subprocess.run(
        [sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip


def api_call(
    mlflow: Server, auth: tuple[str, str], method: str, path: str, body: object = None
) -> int:
    response = httpx.request(
        method, f"{mlflow.url}/api/2.0/mlflow/{path}", auth=auth, json=body, timeout=30
    )
    return response.status_code


def test_the_api_user_reads_the_registry_and_cannot_change_it(mlflow: Server) -> None:
    model = {"name": "tweet-sentiment"}
    assert api_call(mlflow, ADMIN, "POST", "registered-models/create", model) == 200
    created = create_reader(mlflow, "reader-Zq8vT2mW9xK4")
    assert created.returncode == 0, created.stderr
    assert "created the read-only MLflow user" in created.stdout
    reader = (READER, "reader-Zq8vT2mW9xK4")
    assert api_call(mlflow, reader, "GET", "registered-models/get?name=tweet-sentiment") == 200
    assert api_call(mlflow, reader, "GET", "experiments/search?max_results=10") == 200
    alias = {**model, "alias": "champion", "version": "1"}
    assert api_call(mlflow, reader, "POST", "registered-models/alias", alias) == 403
    assert api_call(mlflow, reader, "PATCH", "registered-models/update", model) == 403
    assert api_call(mlflow, reader, "DELETE", "registered-models/delete", model) == 403
    assert api_call(mlflow, ("nobody", "guess-Zq8vT2mW9xK4"), "GET", "experiments/search") == 401


def test_a_second_start_sets_the_password_of_env(mlflow: Server) -> None:
    assert create_reader(mlflow, "first-Zq8vT2mW9xK4").returncode == 0
    again = create_reader(mlflow, "second-Zq8vT2mW9xK4")
    assert again.returncode == 0, again.stderr
    assert "exists: password set again" in again.stdout
    path = "experiments/search?max_results=1"
    assert api_call(mlflow, (READER, "first-Zq8vT2mW9xK4"), "GET", path) == 401
    assert api_call(mlflow, (READER, "second-Zq8vT2mW9xK4"), "GET", path) == 200


def test_the_admin_is_refused_as_the_api_user(mlflow: Server) -> None:
    refused = create_reader(mlflow, ADMIN[1], user=ADMIN[0])
    assert refused.returncode == 1
    assert "is an MLflow admin" in refused.stderr
