"""How the API refuses: the refusals each route documents in the OpenAPI contract, and the
exception handlers that answer them (one sentence in `detail`; 422 without the input)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.limits import Overloaded
from api.schemas import ErrorMessage


def refusal(description: str) -> dict[str, Any]:
    return {"model": ErrorMessage, "description": description}


# The refusals each route can answer, for the OpenAPI contract (422 FastAPI documents itself).
BAD_BODY: dict[int | str, dict[str, Any]] = {
    400: refusal("The body is not valid UTF-8."),
    413: refusal("The body is over BADBUZZ_MAX_BODY_BYTES."),
}
KEY_REFUSED: dict[int | str, dict[str, Any]] = {
    401: refusal("No API key in X-API-Key (the server has one set)."),
    403: refusal("Wrong API key (the ingest key opens /predict* only)."),
}
INGEST_KEY_REFUSED: dict[int | str, dict[str, Any]] = {
    401: refusal(
        "No key in X-API-Key: predictions are stored and a key is set (BADBUZZ_INGEST_KEY, "
        "else BADBUZZ_API_KEY)."
    ),
    403: refusal("Wrong key: neither the ingest key nor the API key."),
}
NO_MODEL: dict[int | str, dict[str, Any]] = {
    503: refusal("No model loaded: none resolved, or none passed its smoke test."),
}
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}}
# /predict*: no model, or the API at one of its bounds (requests at once, tweets waiting for a
# batch, predictions waiting to be stored: then with Retry-After).
PREDICT_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {
        **refusal(
            "No model loaded (none resolved, or none passed its smoke test); or the API is at "
            "one of its limits (BADBUZZ_MAX_CONCURRENT_PREDICTIONS requests at once, "
            "BADBUZZ_MAX_UNWRITTEN_PREDICTIONS waiting to be stored): then Retry-After says "
            "when to try again."
        ),
        "headers": RETRY_AFTER,
    },
}


async def overloaded(request: Request, error: Overloaded) -> JSONResponse:
    return JSONResponse({"detail": error.message}, 503, headers=error.headers())


async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
    detail = error.detail
    if error.status_code == 400 and detail == "There was an error parsing the body":
        detail = 'the body is not valid JSON in UTF-8: send {"text": "..."} as JSON'
    return JSONResponse({"detail": detail}, error.status_code, headers=error.headers)


async def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    # Pydantic's error list, minus the echoed input (it may be a 1 MB body or binary).
    details = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in error.errors()
    ]
    return JSONResponse(status_code=422, content={"detail": details})


# FastAPI(exception_handlers=...): these replace FastAPI's own for the same exceptions.
REFUSAL_HANDLERS: dict[
    int | type[Exception], Callable[[Request, Any], Coroutine[Any, Any, Response]]
] = {
    Overloaded: overloaded,
    StarletteHTTPException: http_error,
    RequestValidationError: validation_error,
}
