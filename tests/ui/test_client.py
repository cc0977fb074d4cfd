"""ui/client.py: what each failure of the API becomes (fake transports), and the console's
distance from the other parts (HTTP only)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

import httpx
import pytest
from pydantic import SecretStr

from badbuzz.settings import UiSettings
from ui.client import ApiBusy, ApiClient, ApiRefused, ApiUnavailable

URL = "http://api.test:8000"


def client(handler: Callable[[httpx.Request], httpx.Response], key: str | None = "k") -> ApiClient:
    secret = SecretStr(key) if key else None
    settings = UiSettings(api_url=URL + "/", api_key=secret, request_timeout_s=1)
    return ApiClient(settings, transport=httpx.MockTransport(handler))


def answering(status: int, **body: object) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(status, **body)  # type: ignore[arg-type]


def test_the_key_goes_to_feedback_alerts_and_predictions() -> None:
    seen: dict[str, str | None] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen[request.url.path] = request.headers.get("X-API-Key")
        if request.url.path == "/feedback":
            return httpx.Response(201, json={"feedback_id": "f1", "prediction_id": "p1"})
        if request.url.path == "/alerts":
            return httpx.Response(200, json={"alerts": []})
        return httpx.Response(200, json={"label": "negative"})

    with client(handler, key="secret") as api:
        assert api.feedback("p1", correct=False) == "f1"
        assert api.alerts() == []
        api.predict("hello")
        api.readiness()
    assert seen == {
        "/feedback": "secret",
        "/alerts": "secret",
        "/predict": "secret",  # stored predictions need a key
        "/health/ready": None,
    }


def test_a_refused_key_says_to_set_it() -> None:
    handler = answering(401, json={"detail": "missing X-API-Key"})
    with client(handler, key=None) as api, pytest.raises(ApiRefused) as refused:
        api.alerts()
    assert refused.value.status_code == 401
    assert "no API key is set" in str(refused.value) and "BADBUZZ_API_KEY" in str(refused.value)


def test_a_validation_list_becomes_its_messages() -> None:
    detail = [{"loc": ["body", "text"], "msg": "text is empty", "type": "value_error"}]
    handler = answering(422, json={"detail": detail})
    with client(handler) as api, pytest.raises(ApiRefused, match=r"HTTP 422.*text is empty"):
        api.predict(" ")


def test_not_ready_gives_the_reason() -> None:
    body = {"ready": False, "reason": "no bundle found"}
    handler = answering(503, json=body)
    with client(handler) as api, pytest.raises(ApiUnavailable, match="not ready: no bundle"):
        api.readiness()


def test_a_busy_api_says_when_to_try_again() -> None:
    handler = answering(
        503, json={"detail": "the API is handling its limit"}, headers={"Retry-After": "5"}
    )
    with client(handler) as api, pytest.raises(ApiUnavailable) as busy:
        api.predict("a tweet")
    assert str(busy.value) == (
        f"The API at {URL} is busy (the API is handling its limit). Try again in 5 s."
    )


def test_a_file_waits_as_a_busy_api_says_then_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr("ui.client.time.sleep", slept.append)
    answers = iter([503, 503, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        status = next(answers)
        if status == 503:
            return httpx.Response(503, json={"detail": "full"}, headers={"Retry-After": "5"})
        return httpx.Response(200, json={"predictions": [{"label": "negative"}]})

    with client(handler) as api:
        assert api.predict_batch(["a tweet"]) == [{"label": "negative"}]
    assert slept == [5.0, 5.0]


def test_a_file_gives_up_on_an_api_busy_for_too_long(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr("ui.client.time.sleep", slept.append)
    handler = answering(503, json={"detail": "full"}, headers={"Retry-After": "100"})
    with client(handler) as api, pytest.raises(ApiBusy, match="busy"):
        api.predict_batch(["a tweet"])
    assert slept == [100.0, 100.0, 100.0]  # BUSY_WAIT_S: 300


@pytest.mark.parametrize(
    ("failure", "match"),
    [
        (httpx.ConnectError("refused"), f"Cannot reach the API at {URL}.*BADBUZZ_API_URL"),
        (httpx.ReadTimeout("slow"), "did not answer in time"),
    ],
)
def test_no_answer_is_unavailable(failure: Exception, match: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise failure

    with client(handler) as api, pytest.raises(ApiUnavailable, match=match):
        api.model_card()


def test_a_server_error_is_unavailable() -> None:
    handler = answering(500, text="Internal Server Error")
    with client(handler) as api, pytest.raises(ApiUnavailable, match="HTTP 500"):
        api.predict_batch(["a"])


def test_buzz_404_is_none() -> None:
    handler = answering(404, json={"detail": "Not Found"})
    with client(handler) as api:
        assert api.buzz() is None


def test_batches_go_in_chunks_of_1000() -> None:
    sizes: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        texts = json.loads(request.content)["texts"]
        sizes.append(len(texts))
        return httpx.Response(200, json={"predictions": [{"text": t} for t in texts]})

    with client(handler) as api:
        results = api.predict_batch([str(i) for i in range(2_345)])
    assert sizes == [1_000, 1_000, 345]
    assert [r["text"] for r in results] == [str(i) for i in range(2_345)]


def test_the_console_imports_no_other_part() -> None:
    code = (
        "import sys\n"
        "import ui.client, ui.scoring\n"
        "from ui.views import alerts, analyse, buzz, model, score_file\n"
        "parts = {'api', 'training', 'ops'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in parts))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "[]"
