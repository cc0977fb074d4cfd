"""The console's only way to the service: HTTP calls to the badbuzz API.

Every failure becomes an `ApiUnavailable` (the API cannot answer: down, unreachable, no model
loaded yet) or an `ApiRefused` (it answered no: a wrong key, a tweet it will not take), with
a message a community manager can act on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

import httpx

from badbuzz.settings import UiSettings
from ui.scoring import MAX_BATCH, score_in_chunks

KEY_HEADER = "X-API-Key"
# The longest a chunk of a file waits, in all, for a busy API (503 with Retry-After: too many
# requests at once, or predictions waiting to be stored) before the scoring gives up.
BUSY_WAIT_S = 300.0


class ApiError(Exception):
    """A call to the API that did not give an answer to show; `str()` says what to do."""


class ApiUnavailable(ApiError):
    """The API did not answer, or answered that it cannot serve (no model yet)."""


class ApiBusy(ApiUnavailable):
    """The API is at one of its bounds and said when to try again (nothing was stored)."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ApiRefused(ApiError):
    """The API answered and said no (a wrong key, a body it refuses)."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


def _detail(response: httpx.Response) -> str:
    """The API's one-sentence refusal (or the first messages of a 422's list)."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return response.text[:200] or response.reason_phrase
    if isinstance(detail, list):
        return "; ".join(str(item.get("msg", item)) for item in detail[:3])
    return str(detail)


class ApiClient:
    def __init__(self, settings: UiSettings, transport: httpx.BaseTransport | None = None) -> None:
        self.url = settings.api_url
        self._key = settings.api_key.get_secret_value() if settings.api_key else None
        self._http = httpx.Client(
            base_url=self.url, timeout=settings.request_timeout_s, transport=transport
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- the calls ------------------------------------------------------------------------

    def readiness(self) -> dict[str, Any]:
        """`/health/ready`: raises `ApiUnavailable` when the API is down or has no model."""
        response = self._send("GET", "/health/ready", accept=(503,))
        body: dict[str, Any] = response.json()
        if response.status_code == 503:
            reason = body.get("reason") or "no model loaded"
            raise ApiUnavailable(
                f"The API at {self.url} is running but not ready: {reason}. Wait a minute and "
                "reload this page; if it stays so, ask whoever runs the API to check its model."
            )
        return body

    def predict(self, text: str) -> dict[str, Any]:
        """`/predict`: label, probability_positive, model, prediction_id."""
        # keyed: an API that stores predictions asks for a key on /predict*, and the API key
        # opens them as the ingest key does
        response = self._send("POST", "/predict", json={"text": text}, keyed=True)
        result: dict[str, Any] = response.json()
        return result

    def predict_batch(
        self, texts: Sequence[str], on_progress: Callable[[int, int], None] | None = None
    ) -> list[dict[str, Any]]:
        """`/predict/batch`, one call per MAX_BATCH texts; the results in the order of `texts`."""
        return score_in_chunks(texts, self._predict_chunk, MAX_BATCH, on_progress)

    def _predict_chunk(self, texts: list[str]) -> list[dict[str, Any]]:
        # a file outruns the store (a few thousand predictions a second on SQLite): wait as
        # the API says, a refused chunk stored nothing
        waited = 0.0
        while True:
            try:
                response = self._send("POST", "/predict/batch", json={"texts": texts}, keyed=True)
                break
            except ApiBusy as busy:
                if waited + busy.retry_after_s > BUSY_WAIT_S:
                    raise
                time.sleep(busy.retry_after_s)
                waited += busy.retry_after_s
        predictions: list[dict[str, Any]] = response.json()["predictions"]
        return predictions

    def feedback(self, prediction_id: str, correct: bool, right_label: str | None = None) -> str:
        """`/feedback` by prediction id (with the key; a wrong one may name its right label):
        the feedback's id."""
        body: dict[str, Any] = {"prediction_id": prediction_id, "correct": correct}
        if right_label is not None:
            body["right_label"] = right_label
        response = self._send("POST", "/feedback", json=body, keyed=True)
        feedback_id: str = response.json()["feedback_id"]
        return feedback_id

    def model_card(self) -> dict[str, Any]:
        card: dict[str, Any] = self._send("GET", "/model").json()
        return card

    def alerts(self, limit: int = 50) -> list[dict[str, Any]]:
        """`/alerts` (with the key), the most recent first."""
        response = self._send("GET", "/alerts", params={"limit": limit}, keyed=True)
        alerts: list[dict[str, Any]] = response.json()["alerts"]
        return alerts

    def buzz(self, hours: int = 48, brand: str | None = None) -> dict[str, Any] | None:
        """`/buzz` (with the key) over the last `hours`, or None where this API has none (it
        answers 404)."""
        params: dict[str, Any] = {"hours": hours} | ({"brand": brand} if brand else {})
        response = self._send("GET", "/buzz", params=params, keyed=True, accept=(404,))
        if response.status_code == 404:
            return None
        buzz: dict[str, Any] = response.json()
        return buzz

    # -- one request, its failures in words -----------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        keyed: bool = False,
        accept: tuple[int, ...] = (),
        **kwargs: Any,
    ) -> httpx.Response:
        headers = {KEY_HEADER: self._key} if keyed and self._key else {}
        try:
            response = self._http.request(method, path, headers=headers, **kwargs)
        except httpx.TimeoutException as error:
            raise ApiUnavailable(
                f"The API at {self.url} did not answer in time ({type(error).__name__}). "
                "Try again in a moment; for a large file, score fewer rows at once."
            ) from error
        except httpx.HTTPError as error:
            raise ApiUnavailable(
                f"Cannot reach the API at {self.url} ({type(error).__name__}: {error}). Check "
                "that it is running and that BADBUZZ_API_URL points at it, then reload."
            ) from error
        if response.is_success or response.status_code in accept:
            return response
        raise self._refusal(path, response)

    def _refusal(self, path: str, response: httpx.Response) -> ApiError:
        status = response.status_code
        detail = _detail(response)
        if status in (401, 403):
            what = "no API key is set" if self._key is None else "the API key was refused"
            return ApiRefused(
                f"{path} needs the API key and {what} ({detail}). Set BADBUZZ_API_KEY for the "
                "console to the API's key and restart it.",
                status,
            )
        if status == 503 and "retry-after" in response.headers:  # at one of its bounds
            retry_after = response.headers["retry-after"]
            return ApiBusy(
                f"The API at {self.url} is busy ({detail}). Try again in {retry_after} s.",
                float(retry_after) if retry_after.isdigit() else 1.0,
            )
        if status == 503:
            return ApiUnavailable(
                f"The API at {self.url} has no model to serve right now ({detail}). Wait a "
                "minute and try again."
            )
        if status >= 500:
            return ApiUnavailable(
                f"The API at {self.url} failed on {path} (HTTP {status}: {detail}). Try again; "
                "if it keeps failing, send this message to whoever runs the API."
            )
        return ApiRefused(f"The API refused {path} (HTTP {status}): {detail}", status)
