"""Bad input gets an exact 4xx, never a 5xx; real tweets with emoji and any script get 200.

All against the running API process over HTTP (see `api` in conftest)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from .support import KEY_HEADER, Api

LIMIT = 1_048_576  # BADBUZZ_MAX_BODY_BYTES default
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def client(api: Api) -> httpx.Client:
    return api.client()


def detail_types(response: httpx.Response) -> set[str]:
    return {item["type"] for item in response.json()["detail"]}


@pytest.mark.parametrize(
    ("path", "body", "error_type"),
    [
        ("/predict", {"text": ""}, "string_too_short"),
        ("/predict", {"text": "   \n\t  "}, "value_error"),
        ("/predict", {"text": "x" * 1001}, "string_too_long"),
        ("/predict", {"text": 42}, "string_type"),
        ("/predict", {"text": None}, "string_type"),
        ("/predict", {"text": ["a list"]}, "string_type"),
        ("/predict", {"text": {"nested": "object"}}, "string_type"),
        ("/predict", {"text": "fine", "lang": "en"}, "extra_forbidden"),
        ("/predict", {}, "missing"),
        ("/predict", {"tweet": "wrong field name"}, "missing"),
        ("/predict", ["a bare list"], "model_attributes_type"),
        ("/predict", "a bare string", "model_attributes_type"),
        ("/predict/batch", {"texts": []}, "too_short"),
        ("/predict/batch", {"texts": ["ok"] * 1001}, "too_long"),
        ("/predict/batch", {"texts": "not a list"}, "list_type"),
        ("/predict/batch", {"texts": ["ok", ""]}, "string_too_short"),
        ("/predict/batch", {"texts": ["ok", 7]}, "string_type"),
        ("/predict/batch", {"text": "single"}, "missing"),
        ("/feedback", {"correct": "yes", "prediction_id": "x"}, "bool_type"),
        ("/feedback", {"correct": True}, "value_error"),
        ("/feedback", {"correct": True, "text": "only the text"}, "value_error"),
        (
            "/feedback",
            {"correct": True, "prediction_id": "x", "text": "t", "predicted_label": "negative"},
            "value_error",
        ),
        (
            "/feedback",
            {"correct": True, "text": "t", "predicted_label": "neutral"},
            "literal_error",
        ),
        ("/feedback", {"correct": True, "prediction_id": "x" * 37}, "string_too_long"),
    ],
    ids=lambda value: str(value)[:40],
)
def test_invalid_bodies_are_422_with_the_reason(
    client: httpx.Client, path: str, body: Any, error_type: str
) -> None:
    response = client.post(path, json=body, headers=KEY_HEADER)
    assert response.status_code == 422, response.text
    assert error_type in detail_types(response), response.text


@pytest.mark.parametrize(
    "raw",
    [b'{"text": ', b"{'text': 'single quotes'}", b'{"text": "a"} trailing', b"", b"NaN"],
    ids=["truncated", "single-quotes", "trailing", "empty-body", "nan"],
)
def test_invalid_json_is_422(client: httpx.Client, raw: bytes) -> None:
    response = client.post("/predict", content=raw, headers=JSON)
    assert response.status_code == 422, response.text


@pytest.mark.parametrize(
    "raw",
    [b'{"text": "caf\xe9 cr\xe8me"}', b'{"text": "\xff\xfe\xfd"}', b'{"text": "\xc3("}'],
    ids=["latin-1", "invalid-bytes", "truncated-sequence"],
)
def test_bytes_that_are_not_utf8_are_400_with_a_message(client: httpx.Client, raw: bytes) -> None:
    response = client.post("/predict", content=raw, headers=JSON)
    assert response.status_code == 400, response.text
    assert "UTF-8" in response.json()["detail"]


def test_a_lone_surrogate_escape_is_422(client: httpx.Client) -> None:
    # valid JSON, but not a string any database or log line can hold
    response = client.post("/predict", content=b'{"text": "bad \\ud800 bag"}', headers=JSON)
    assert response.status_code == 422, response.text


@pytest.mark.parametrize(
    "headers",
    [{"content-type": "text/plain"}, {"content-type": "application/x-www-form-urlencoded"}, {}],
    ids=["text-plain", "form", "none"],
)
def test_a_body_that_is_not_declared_json_is_422(
    client: httpx.Client, headers: dict[str, str]
) -> None:
    response = client.post("/predict", content=b'{"text": "hello"}', headers=headers)
    assert response.status_code == 422, response.text


def test_wrong_method_and_path(client: httpx.Client) -> None:
    assert client.get("/predict").status_code == 405
    assert client.post("/nowhere", json={"text": "hi"}).status_code == 404


def oversized_body(size: int) -> bytes:
    return b'{"text": "' + b"a" * size + b'"}'


def test_body_over_the_limit_with_content_length_is_413(client: httpx.Client) -> None:
    response = client.post("/predict", content=oversized_body(LIMIT + 1), headers=JSON)
    assert response.status_code == 413, response.text
    assert "body over" in response.json()["detail"]


def test_batch_body_over_the_limit_is_413(client: httpx.Client) -> None:
    # within the count and length limits, but 2 MB of UTF-8
    response = client.post("/predict/batch", json={"texts": ["\u00e9" * 1000] * 1000})
    assert response.status_code == 413, response.text


def test_chunked_body_over_the_limit_is_413(client: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"text": "'
        for _ in range(LIMIT // 65_536 + 2):
            yield b"a" * 65_536
        yield b'"}'

    response = client.post("/predict", content=chunks(), headers=JSON)
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in response.request.headers
    assert response.status_code == 413, response.text


def test_small_chunked_body_is_accepted(client: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"text": "chunked '
        yield b'upload, lost my bag"}'

    response = client.post("/predict", content=chunks(), headers=JSON)
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert response.status_code == 200, response.text


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
def test_emoji_and_non_ascii_text_is_scored(client: httpx.Client, text: str) -> None:
    response = client.post("/predict", json={"text": text})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["label"] in ("negative", "positive")
    assert 0.0 <= body["probability_positive"] <= 1.0


def test_a_full_batch_of_long_tweets_is_scored(client: httpx.Client) -> None:
    texts = [f"tweet {i} " + "y" * 990 for i in range(1000)]
    response = client.post("/predict/batch", json={"texts": texts})
    assert response.status_code == 200, response.text
    assert len(response.json()["predictions"]) == 1000
