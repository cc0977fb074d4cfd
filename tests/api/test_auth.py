"""The API key guards /feedback and /admin/*, never /predict; production refuses to start
without a real key."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from .support import API_KEY, Api, run_serve

FEEDBACK = {"text": "love the new seats", "predicted_label": "negative", "correct": False}


@pytest.fixture(scope="module")
def client(api: Api) -> httpx.Client:
    return api.client()


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/feedback", FEEDBACK),
    ("POST", "/admin/reload", None),
])  # fmt: skip
def test_guarded_routes_need_the_key(
    client: httpx.Client, method: str, path: str, body: dict[str, object] | None
) -> None:
    missing = client.request(method, path, json=body)
    assert missing.status_code == 401, missing.text
    assert "X-API-Key" in missing.json()["detail"]
    wrong = client.request(method, path, json=body, headers={"X-API-Key": API_KEY + "x"})
    assert wrong.status_code == 403, wrong.text
    empty = client.request(method, path, json=body, headers={"X-API-Key": ""})
    assert empty.status_code == 401, empty.text
    right = client.request(method, path, json=body, headers={"X-API-Key": API_KEY})
    assert right.status_code == (201 if path == "/feedback" else 200), right.text


def test_the_key_is_checked_before_the_body(client: httpx.Client) -> None:
    assert client.post("/feedback", json={"nonsense": 1}).status_code == 401
    wrong = client.post("/feedback", json=FEEDBACK, headers={"X-API-Key": "nope"})
    assert wrong.status_code == 403


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/predict", {"text": "open to everyone"}),
    ("POST", "/predict/batch", {"texts": ["open", "to everyone"]}),
    ("GET", "/model", None),
    ("GET", "/health/live", None),
    ("GET", "/health/ready", None),
    ("GET", "/metrics", None),
])  # fmt: skip
def test_open_routes_need_no_key(
    client: httpx.Client, method: str, path: str, body: dict[str, object] | None
) -> None:
    response = client.request(method, path, json=body)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "key",
    [None, "change-me", "short-secret"],
    ids=["unset", "default", "too-short"],
)
def test_production_refuses_to_serve_without_a_real_key(
    key: str | None, tmp_path: Path, local_bundle: Path
) -> None:
    settings = {"BADBUZZ_ENVIRONMENT": "production", "BADBUZZ_MODEL_BUNDLE": str(local_bundle)}
    if key is not None:
        settings["BADBUZZ_API_KEY"] = key
    result = run_serve(tmp_path / "home", tmp_path, settings)
    assert result.returncode != 0
    assert "BADBUZZ_API_KEY" in result.stdout + result.stderr, result.stderr[-3000:]
