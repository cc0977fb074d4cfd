"""What the API refuses to take on: bodies over a size limit (with or without a Content-Length
header), and work past a bounded queue or a concurrency limit (503 with Retry-After, so that a
flood costs the clients a retry instead of the process its memory)."""

from __future__ import annotations

import json
from collections.abc import Collection

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def _message(max_bytes: int) -> str:
    return f"request body over {max_bytes} bytes: send fewer or shorter texts"


class BodyTooLarge(HTTPException):
    """Raised from receive(): an HTTPException, so the framework's body reader passes it on
    as a 413 instead of calling the body unparseable."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, _message(max_bytes))


class BodySizeLimit:
    """Pure ASGI middleware: counts body bytes as they arrive (chunked uploads too)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"detail": _message(self.max_bytes)}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class Overloaded(Exception):
    """A bounded queue is full: the request is refused, answered 503 with Retry-After."""

    def __init__(self, message: str, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after_s = retry_after_s

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


def busy_message(limit: int) -> str:
    return (
        f"the API is handling its limit of {limit} prediction requests at once "
        "(BADBUZZ_MAX_CONCURRENT_PREDICTIONS): retry after the Retry-After seconds"
    )


class ConcurrencyLimit:
    """Pure ASGI middleware: at most `limit` requests on `paths` at once in this process; one
    more is answered 503 with Retry-After before its body is read (the event loop is one
    thread, so a plain counter is exact)."""

    def __init__(
        self, app: ASGIApp, limit: int, paths: Collection[str], retry_after_s: int = 1
    ) -> None:
        self.app = app
        self.limit = limit
        self.paths = frozenset(paths)
        self.retry_after_s = retry_after_s
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            body = json.dumps({"detail": busy_message(self.limit)}).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"retry-after", str(self.retry_after_s).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
