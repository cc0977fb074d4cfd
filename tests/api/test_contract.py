"""The API's contract, in process: its schema, the API key and the limits on what it accepts,
against the app itself (FastAPI's TestClient, lifespan included) serving a tiny real bundle.

Every answer these tests get must be one the OpenAPI schema documents, status code and content
type both (`documented`); what needs a real server (chunked uploads, bodies near the limit over
a socket, start-up refusals) stays in the process tests beside this file.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator
from pydantic import SecretStr, TypeAdapter, ValidationError

from api.app import create_app
from api.schemas import TWEET_PATTERN, Tweet
from badbuzz.settings import ApiSettings
from tests.bundles import write_tiny_sklearn_bundle
from tests.processes import CLIENT_ENV_PREFIXES

from .support import API_KEY, KEY_HEADER

LIMIT = 1_048_576  # ApiSettings.max_body_bytes default
JSON = {"content-type": "application/json"}
FEEDBACK = {"text": "love the new seats", "predicted_label": "negative", "correct": False}
NOT_JSON_MESSAGE = 'the body is not valid JSON in UTF-8: send {"text": "..."} as JSON'


@pytest.fixture(scope="module")
def tiny_bundle(sentiment140_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_sklearn_bundle(tmp_path_factory.mktemp("tiny-bundle") / "bundle")


def documented(openapi: dict[str, Any]) -> Callable[[httpx.Response], None]:
    """A response hook failing the test on any answer the schema does not document."""

    def check(response: httpx.Response) -> None:
        method, path = response.request.method, response.request.url.path
        operation = openapi["paths"].get(path, {}).get(method.lower())
        if operation is None:  # a path or method the API does not have: not in any contract
            return
        answer = operation["responses"].get(str(response.status_code))
        assert answer is not None, (
            f"{method} {path} answered {response.status_code}, which its schema does not "
            f"document (only {sorted(operation['responses'])})"
        )
        media_type = response.headers["content-type"].split(";")[0]
        assert media_type in answer.get("content", {}), (
            f"{method} {path} answered {response.status_code} in {media_type}, which its "
            f"schema does not document"
        )

    return check


@pytest.fixture(scope="module")
def client(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The app serving `tiny_bundle` with an API key set, started and stopped by its lifespan."""
    with pytest.MonkeyPatch.context() as env:
        for name in [n for n in os.environ if n.startswith(CLIENT_ENV_PREFIXES)]:
            env.delenv(name)  # the shell's settings are not the test's
        settings = ApiSettings(
            _env_file=None,
            home=tmp_path_factory.mktemp("api-in-process") / "home",
            model_bundle=tiny_bundle,
            api_key=SecretStr(API_KEY),
            reload_interval_s=0,
        )
        app = create_app(settings)
        with TestClient(app) as test_client:
            test_client.event_hooks = {"response": [documented(app.openapi())]}
            yield test_client


def errors(response: httpx.Response) -> set[tuple[tuple[str | int, ...], str]]:
    """Where and what each validation error is, from a 422's detail list."""
    return {(tuple(item["loc"]), item["type"]) for item in response.json()["detail"]}


# --- the schema ----------------------------------------------------------------------------


def test_the_tweet_pattern_refuses_what_the_validator_refuses() -> None:
    # one character at a time, every one there is: NUL and whitespace are the refused ones
    pattern = re.compile(TWEET_PATTERN)
    tweet = TypeAdapter(Tweet)

    def accepted(text: str) -> bool:
        try:
            tweet.validate_python(text)
        except ValidationError:
            return False
        return True

    disagree = [
        hex(code)
        for code in range(sys.maxunicode + 1)
        if not 0xD800 <= code <= 0xDFFF  # surrogates: no JSON string carries one alone
        and bool(pattern.search(chr(code))) != accepted(chr(code))
    ]
    assert disagree == []
    assert pattern.search("  a tweet  ")
    assert not pattern.search("a tweet\x00")
    assert not pattern.search("\u3000 \t\n\x1c")


BY_TEXT = {"text": "t", "predicted_label": "positive"}


@pytest.mark.parametrize(
    ("path", "body", "valid"),
    [
        ("/predict", {"text": "fine"}, True),
        ("/predict", {"text": " \u3000x\t"}, True),
        ("/predict", {"text": " \u3000\t"}, False),
        ("/predict", {"text": "\x1c\x1d\x1e\x1f"}, False),  # str.strip() takes these; ECMA \s not
        ("/predict", {"text": "\ufeff"}, True),  # and this the other way round
        ("/predict", {"text": "a\x00b"}, False),
        ("/predict", {"text": ""}, False),
        ("/predict/batch", {"texts": ["ok", "\x85"]}, False),
        ("/predict/batch", {"texts": ["ok", "fine\x00"]}, False),
        ("/feedback", {"correct": True, "prediction_id": "unknown"}, True),
        ("/feedback", {"correct": True, "prediction_id": "unknown", "text": "ignored"}, True),
        ("/feedback", {"correct": True, "prediction_id": "unknown", "predicted_label": None}, True),
        ("/feedback", {"correct": True, **BY_TEXT}, True),
        ("/feedback", {"correct": True, **BY_TEXT, "prediction_id": None}, True),
        ("/feedback", {"correct": True, **BY_TEXT, "prediction_id": "unknown"}, False),
        ("/feedback", {"correct": True}, False),
        ("/feedback", {"correct": True, "prediction_id": None}, False),
        ("/feedback", {"correct": True, "text": "t"}, False),
        ("/feedback", {"correct": True, "text": "t", "predicted_label": None}, False),
        ("/feedback", {"correct": True, "text": "   ", "predicted_label": "negative"}, False),
        (
            "/predict",
            {"text": "x", "brand": "Virgin America", "created_at": "2015-02-22T17:03:11Z"},
            True,
        ),
        ("/predict", {"text": "x", "brand": "Un*ted"}, False),
        ("/predict", {"text": "x", "brand": " United"}, False),
        ("/predict", {"text": "x", "brand": ""}, False),
        ("/predict", {"text": "x", "created_at": 1424624591}, False),
        ("/predict/batch", {"tweets": [{"text": "ok"}, {"text": "fine", "brand": "Delta"}]}, True),
        ("/predict/batch", {"tweets": [{"text": "fine", "airline": "Delta"}]}, False),
        ("/predict/batch", {"tweets": [{"brand": "Delta"}]}, False),
        ("/predict/batch", {"texts": ["ok"], "tweets": [{"text": "ok"}]}, False),
        ("/predict/batch", {"texts": None, "tweets": [{"text": "ok"}]}, True),
        ("/predict/batch", {}, False),
    ],
    ids=lambda value: str(value)[:60],
)
def test_the_schema_and_the_server_agree_on_what_is_valid(
    client: TestClient, path: str, body: dict[str, Any], valid: bool
) -> None:
    openapi = client.get("/openapi.json").json()
    reference = openapi["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    schema = {"$ref": reference["schema"]["$ref"], "components": openapi["components"]}
    assert Draft202012Validator(schema).is_valid(body) is valid
    response = client.post(path, json=body, headers=KEY_HEADER)
    assert (response.status_code != 422) is valid, response.text


def test_metrics_are_prometheus_text(client: TestClient) -> None:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    assert "badbuzz_requests_total" in response.text


def test_an_unknown_prediction_id_is_404_with_what_to_send(client: TestClient) -> None:
    response = client.post(
        "/feedback", json={"correct": True, "prediction_id": "nope"}, headers=KEY_HEADER
    )
    assert response.status_code == 404
    assert response.json() == {
        "detail": "no prediction 'nope': send the id /predict returned, or text and predicted_label"
    }


def test_feedback_on_a_prediction_by_its_id_is_201(client: TestClient) -> None:
    predicted = client.post("/predict", json={"text": "lost my bag"}, headers=KEY_HEADER)
    prediction_id = predicted.json()["prediction_id"]
    response = client.post(
        "/feedback", json={"correct": False, "prediction_id": prediction_id}, headers=KEY_HEADER
    )
    assert response.status_code == 201, response.text
    assert response.json()["prediction_id"] == prediction_id


# --- the API key ---------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "body", "ok"), [
    ("POST", "/feedback", FEEDBACK, 201),
    ("POST", "/admin/reload", None, 200),
    ("GET", "/buzz", None, 200),
])  # fmt: skip
def test_guarded_routes_need_the_key(
    client: TestClient, method: str, path: str, body: dict[str, object] | None, ok: int
) -> None:
    missing = client.request(method, path, json=body)
    assert missing.status_code == 401
    assert missing.json() == {"detail": "send the API key in X-API-Key"}
    empty = client.request(method, path, json=body, headers={"X-API-Key": ""})
    assert empty.status_code == 401
    assert empty.json() == {"detail": "send the API key in X-API-Key"}
    wrong = client.request(method, path, json=body, headers={"X-API-Key": API_KEY + "x"})
    assert wrong.status_code == 403
    assert wrong.json() == {"detail": "wrong API key"}
    right = client.request(method, path, json=body, headers=KEY_HEADER)
    assert right.status_code == ok, right.text


def test_the_key_is_checked_before_the_body(client: TestClient) -> None:
    assert client.post("/feedback", json={"nonsense": 1}).status_code == 401
    wrong = client.post("/feedback", json={"nonsense": 1}, headers={"X-API-Key": "nope"})
    assert wrong.status_code == 403


@pytest.mark.parametrize(("method", "path", "body"), [
    ("GET", "/model", None),
    ("GET", "/health/live", None),
    ("GET", "/health/ready", None),
    ("GET", "/metrics", None),
])  # fmt: skip
def test_open_routes_need_no_key(
    client: TestClient, method: str, path: str, body: dict[str, object] | None
) -> None:
    response = client.request(method, path, json=body)
    assert response.status_code == 200, response.text


# --- the limits on what comes in -----------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "loc", "error_type"),
    [
        ("/predict", {"text": ""}, ("body", "text"), "string_too_short"),
        ("/predict", {"text": "x" * 1001}, ("body", "text"), "string_too_long"),
        ("/predict", {"text": 42}, ("body", "text"), "string_type"),
        ("/predict", {"text": None}, ("body", "text"), "string_type"),
        ("/predict", {"text": ["a list"]}, ("body", "text"), "string_type"),
        ("/predict", {"text": {"nested": "object"}}, ("body", "text"), "string_type"),
        ("/predict", {"text": "fine", "lang": "en"}, ("body", "lang"), "extra_forbidden"),
        ("/predict", {}, ("body", "text"), "missing"),
        ("/predict", {"tweet": "wrong field name"}, ("body", "text"), "missing"),
        ("/predict", ["a bare list"], ("body",), "model_attributes_type"),
        ("/predict", "a bare string", ("body",), "model_attributes_type"),
        ("/predict/batch", {"texts": []}, ("body", "texts"), "too_short"),
        ("/predict/batch", {"texts": ["ok"] * 1001}, ("body", "texts"), "too_long"),
        ("/predict/batch", {"texts": "not a list"}, ("body", "texts"), "list_type"),
        ("/predict/batch", {"texts": ["ok", ""]}, ("body", "texts", 1), "string_too_short"),
        ("/predict/batch", {"texts": ["ok", 7]}, ("body", "texts", 1), "string_type"),
        ("/predict/batch", {"text": "single"}, ("body", "text"), "extra_forbidden"),
        ("/predict/batch", {}, ("body",), "value_error"),  # neither texts nor tweets
        ("/feedback", {"correct": "yes", "prediction_id": "x"}, ("body", "correct"), "bool_type"),
        (
            "/feedback",
            {"correct": True, "text": "t", "predicted_label": "mixed"},
            ("body", "predicted_label"),
            "literal_error",
        ),
        (
            "/feedback",
            {"correct": True, "prediction_id": "x" * 37},
            ("body", "prediction_id"),
            "string_too_long",
        ),
    ],
    ids=lambda value: str(value)[:40],
)
def test_invalid_fields_are_422_with_where_and_why(
    client: TestClient, path: str, body: Any, loc: tuple[str | int, ...], error_type: str
) -> None:
    response = client.post(path, json=body, headers=KEY_HEADER)
    assert response.status_code == 422, response.text
    assert (loc, error_type) in errors(response), response.text


@pytest.mark.parametrize(
    ("path", "body", "loc", "message"),
    [
        (
            "/predict",
            {"text": "   \n\t  "},
            ["body", "text"],
            "Value error, text is empty or only whitespace: send the tweet's words",
        ),
        (
            "/predict",
            {"text": "lost my\x00bag"},
            ["body", "text"],
            "Value error, text contains a NUL character (\\u0000): remove it",
        ),
        (
            "/predict/batch",
            {"texts": ["ok", "\x00"]},
            ["body", "texts", 1],
            "Value error, text contains a NUL character (\\u0000): remove it",
        ),
        (
            "/feedback",
            {"correct": True},
            ["body"],
            "Value error, send either prediction_id, or both text and predicted_label",
        ),
        (
            "/feedback",
            {"correct": True, "text": "only the text"},
            ["body"],
            "Value error, send either prediction_id, or both text and predicted_label",
        ),
        (
            "/feedback",
            {"correct": True, "prediction_id": "x", "text": "t", "predicted_label": "negative"},
            ["body"],
            "Value error, send either prediction_id, or both text and predicted_label",
        ),
    ],
    ids=["blank", "nul", "nul-in-batch", "feedback-neither", "feedback-no-label", "feedback-both"],
)
def test_texts_and_feedback_the_validators_refuse_say_what_to_do(
    client: TestClient, path: str, body: dict[str, Any], loc: list[str | int], message: str
) -> None:
    response = client.post(path, json=body, headers=KEY_HEADER)
    assert response.status_code == 422
    assert response.json() == {"detail": [{"loc": loc, "msg": message, "type": "value_error"}]}


@pytest.mark.parametrize(
    ("raw", "loc", "error_type"),
    [
        (b'{"text": ', ("body", 9), "json_invalid"),  # the offset where parsing stopped
        (b"{'text': 'single quotes'}", ("body", 1), "json_invalid"),
        (b'{"text": "a"} trailing', ("body", 14), "json_invalid"),
        (b"", ("body",), "missing"),
        (b"NaN", ("body",), "model_attributes_type"),
    ],
    ids=["truncated", "single-quotes", "trailing", "empty-body", "nan"],
)
def test_a_body_that_is_not_a_json_object_is_422(
    client: TestClient, raw: bytes, loc: tuple[str | int, ...], error_type: str
) -> None:
    response = client.post("/predict", content=raw, headers={**JSON, **KEY_HEADER})
    assert response.status_code == 422
    assert errors(response) == {(loc, error_type)}


@pytest.mark.parametrize(
    "raw",
    [b'{"text": "caf\xe9 cr\xe8me"}', b'{"text": "\xff\xfe\xfd"}', b'{"text": "\xc3("}'],
    ids=["latin-1", "invalid-bytes", "truncated-sequence"],
)
@pytest.mark.parametrize("path", ["/predict", "/predict/batch", "/feedback"])
def test_bytes_that_are_not_utf8_are_400_with_a_message(
    client: TestClient, path: str, raw: bytes
) -> None:
    response = client.post(path, content=raw, headers={**JSON, **KEY_HEADER})
    assert response.status_code == 400
    assert response.json() == {"detail": NOT_JSON_MESSAGE}


def test_a_lone_surrogate_escape_is_422(client: TestClient) -> None:
    # valid JSON, but not a string any database or log line can hold
    response = client.post(
        "/predict", content=b'{"text": "bad \\ud800 bag"}', headers={**JSON, **KEY_HEADER}
    )
    assert response.status_code == 422
    assert errors(response) == {(("body", "text"), "string_unicode")}


@pytest.mark.parametrize(
    "headers",
    [{"content-type": "text/plain"}, {"content-type": "application/x-www-form-urlencoded"}, {}],
    ids=["text-plain", "form", "none"],
)
def test_a_body_that_is_not_declared_json_is_422(
    client: TestClient, headers: dict[str, str]
) -> None:
    response = client.post("/predict", content=b'{"text": "hello"}', headers=headers | KEY_HEADER)
    assert response.status_code == 422
    assert errors(response) == {(("body",), "model_attributes_type")}


def test_wrong_method_and_path(client: TestClient) -> None:
    assert client.get("/predict").status_code == 405
    assert client.post("/nowhere", json={"text": "hi"}).status_code == 404


@pytest.mark.parametrize("path", ["/predict", "/predict/batch", "/feedback"])
def test_a_body_over_the_limit_is_413_with_what_to_do(client: TestClient, path: str) -> None:
    body = b'{"text": "' + b"a" * LIMIT + b'"}'
    response = client.post(path, content=body, headers={**JSON, **KEY_HEADER})
    assert response.status_code == 413
    assert response.json() == {
        "detail": f"request body over {LIMIT} bytes: send fewer or shorter texts"
    }


def test_a_batch_within_its_counts_but_over_the_byte_limit_is_413(client: TestClient) -> None:
    # 1,000 texts of 1,000 characters are allowed; in two-byte UTF-8 they are 2 MB
    response = client.post("/predict/batch", json={"texts": ["\u00e9" * 1000] * 1000})
    assert response.status_code == 413


@pytest.mark.parametrize(
    "text",
    [
        "✈️😡😡😡 @united lost my 🧳 AGAIN 💔💔 #neveragain",
        "🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂",
        "😡" * 1000,  # 1,000 characters (4,000 bytes): at the limit
        "Merci Air France, équipage génial à Zürich ☺",
        "東京行きの便が三時間遅れた。最悪。",
        "Рейс задержали на пять часов, ужасно",
        "رحلة رائعة، شكرا",
        "flag 🇺🇸 family 👨‍👩‍👧‍👦 skin 👍🏽 zwj",
        "a\u0301 combining and \u200b zero width",
        "x",
    ],
    ids=lambda text: text[:12],
)
def test_emoji_and_non_ascii_text_is_scored(client: TestClient, text: str) -> None:
    response = client.post("/predict", json={"text": text}, headers=KEY_HEADER)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["label"] in ("negative", "positive")
    assert 0.0 <= body["probability_positive"] <= 1.0


def test_alerts_list_every_rule_the_jobs_can_record() -> None:
    """A rule missing from the schema would make /alerts a 500 once it fired (drift did)."""
    from typing import get_args

    from api.schemas import AlertRule
    from ops import rules

    recorded = {rules.ERROR_WINDOW, rules.LATENCY, rules.DRIFT, rules.BUZZ}
    assert set(get_args(AlertRule)) == recorded


def test_mail_states_are_the_outbox_states() -> None:
    """A state the outbox records but the schema lacks would make /alerts a 500."""
    from typing import get_args

    from api.schemas import MailStatus
    from ops.outbox import State

    assert MailStatus.model_fields["state"].annotation is not None
    assert set(get_args(MailStatus.model_fields["state"].annotation)) == set(get_args(State))
