"""Pure ASGI guards in front of the routes: TGI's API key and its request-size limit.

Why ASGI and not FastAPI dependencies: both must answer before the body is read (a rejected client
must not make the server buffer megabytes or parse JSON), and both must hold for every route the
app will ever get, not only for those that remember to declare a dependency.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from rag.serve.defaults import DEFAULT_PAYLOAD_LIMIT
from rag.serve.schemas import error_body

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

OPEN_PATHS = frozenset({"/health"})  # liveness probes carry no credentials


async def send_error(
    send: Send, status: int, message: str, error_type: str, headers: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    """A TGI-style JSON error answer (``{"error", "error_type"}``)."""
    body = json.dumps(error_body(message, error_type)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class ApiKeyMiddleware:
    """Like TGI's ``--api-key``: every route but ``/health`` needs ``Authorization: Bearer <key>``.

    The header is compared in constant time, so response timing does not leak the key.
    """

    def __init__(self, app: ASGIApp, api_key: str) -> None:
        if not api_key:
            raise ValueError("the API key must not be empty")
        self.app = app
        self.expected = f"Bearer {api_key}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        given = next((value for name, value in scope["headers"] if name == b"authorization"), b"")
        if hmac.compare_digest(given, self.expected):
            await self.app(scope, receive, send)
            return
        await send_error(
            send,
            401,
            "Unauthorized: missing or wrong API key (send `Authorization: Bearer <key>`)",
            "unauthorized",
            ((b"www-authenticate", b"Bearer"),),
        )


class PayloadLimitMiddleware:
    """Like TGI's ``--payload-limit``: a request body over ``limit`` bytes gets 413.

    A declared ``Content-Length`` over the limit is refused before anything is read; a chunked
    body is counted while it arrives and refused as soon as it passes the limit. The body (at most
    ``limit`` bytes) is then replayed to the app, and later messages (a client's disconnect) pass
    through, so streaming routes still notice a client that hangs up.
    """

    def __init__(self, app: ASGIApp, limit: int = DEFAULT_PAYLOAD_LIMIT) -> None:
        if limit <= 0:
            raise ValueError("the payload limit must be positive")
        self.app = app
        self.limit = limit

    async def _too_large(self, send: Send) -> None:
        await send_error(
            send, 413, f"Payload too large: the request body exceeds {self.limit} bytes", "payload_too_large"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((value for name, value in scope["headers"] if name == b"content-length"), None)
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._too_large(send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # disconnected before the body was complete
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._too_large(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)
