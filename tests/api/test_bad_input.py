"""Bodies only a real server shows the handling of: chunked uploads, and bodies near or over
the size limit sent over a socket (the 413 goes out while the client is still sending).

All against the running API process over HTTP (see `api` in conftest); every other kind of bad
input is checked in process, in test_contract."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from .support import Api

LIMIT = 1_048_576  # BADBUZZ_MAX_BODY_BYTES default
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def client(api: Api) -> httpx.Client:
    return api.client()


def test_body_over_the_limit_with_content_length_is_413(client: httpx.Client) -> None:
    # refused from the header, before the server reads the megabyte the client goes on sending
    body = b'{"text": "' + b"a" * (LIMIT + 1) + b'"}'
    response = client.post("/predict", content=body, headers=JSON)
    assert response.status_code == 413, response.text
    assert response.json() == {
        "detail": f"request body over {LIMIT} bytes: send fewer or shorter texts"
    }


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
    assert response.json() == {
        "detail": f"request body over {LIMIT} bytes: send fewer or shorter texts"
    }


def test_small_chunked_body_is_accepted(client: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"text": "chunked '
        yield b'upload, lost my bag"}'

    response = client.post("/predict", content=chunks(), headers=JSON)
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert response.status_code == 200, response.text


def test_a_full_batch_of_long_tweets_is_scored(client: httpx.Client) -> None:
    # just under the byte limit: a megabyte in, a thousand predictions out
    texts = [f"tweet {i} " + "y" * 990 for i in range(1000)]
    response = client.post("/predict/batch", json={"texts": texts})
    assert response.status_code == 200, response.text
    assert len(response.json()["predictions"]) == 1000
