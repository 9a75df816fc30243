"""The FastAPI application: TGI's routes over a :class:`~rag.serve.server.TGIServer`."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse

from rag.generation.errors import GeneratorError
from rag.serve.defaults import DEFAULT_PAYLOAD_LIMIT
from rag.serve.middleware import ApiKeyMiddleware, PayloadLimitMiddleware
from rag.serve.schemas import (
    API_VERSION,
    ChatRequest,
    CompatGenerateRequest,
    GenerateRequest,
    ValidationFailure,
    error_body,
    sse,
)
from rag.serve.server import TGIServer


def create_app(
    server: TGIServer, *, api_key: str | None = None, payload_limit: int = DEFAULT_PAYLOAD_LIMIT
) -> FastAPI:
    """The FastAPI application with TGI's routes over ``server``.

    With ``api_key`` every route but ``/health`` needs ``Authorization: Bearer <api_key>`` (401
    otherwise); bodies over ``payload_limit`` bytes get 413. Every generating route takes a
    concurrency slot before it tokenizes anything, so an overloaded server answers 429 at once
    instead of spending CPU on requests it will refuse.
    """
    app = FastAPI(title="heise-rag TGI-compatible server", version=API_VERSION, docs_url=None, redoc_url=None)
    app.state.tgi = server
    app.add_middleware(PayloadLimitMiddleware, limit=payload_limit)
    if api_key:  # added last: the outermost guard, so an unauthenticated body is never read
        app.add_middleware(ApiKeyMiddleware, api_key=api_key)

    def validation_response(message: str, event_stream: bool) -> Response:
        body = error_body(message, "validation")
        if event_stream:
            return Response(sse(body), status_code=422, media_type="text/event-stream")
        return JSONResponse(body, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        details = "; ".join(
            f"{'.'.join(str(p) for p in error.get('loc', ()) if p != 'body')}: {error.get('msg')}"
            for error in exc.errors()
        )
        return validation_response(
            f"Input validation error: {details}", request.url.path == "/generate_stream"
        )

    overloaded = JSONResponse(error_body("Model is overloaded", "overloaded"), status_code=429)

    def streaming(events: Iterator[str]) -> StreamingResponse:
        """Stream the events; the request's slot is freed when they end, fail or are dropped unread."""
        lock, released = threading.Lock(), []

        def release() -> None:
            with lock:
                if released:
                    return
                released.append(True)
            server.release()

        def guarded() -> Iterator[str]:
            try:
                yield from events
            finally:
                release()

        body = guarded()
        weakref.finalize(body, release)  # a generator never started runs no `finally`
        return StreamingResponse(body, media_type="text/event-stream")

    def run_generate(request: GenerateRequest) -> Response:
        if not server.acquire():
            return overloaded
        try:
            return JSONResponse(server.generate(request))
        except ValidationFailure as exc:
            return validation_response(str(exc), False)
        except GeneratorError as exc:
            return JSONResponse(error_body(str(exc), "generation"), status_code=424)
        finally:
            server.release()

    def run_generate_stream(request: GenerateRequest, json_errors: bool) -> Response:
        if not server.acquire():
            return overloaded
        handed_over = False
        try:
            ids, params = server.prepare_generate(request)
            response = streaming(server.generate_events(request, ids, params))
            handed_over = True  # the stream frees the slot when it ends
            return response
        except ValidationFailure as exc:
            return validation_response(str(exc), not json_errors)
        finally:
            if not handed_over:
                server.release()

    @app.post("/generate")
    def generate(request: GenerateRequest) -> Response:
        return run_generate(request)

    @app.post("/generate_stream")
    def generate_stream(request: GenerateRequest) -> Response:
        return run_generate_stream(request, json_errors=False)

    @app.post("/")
    def compat_generate(request: CompatGenerateRequest) -> Response:
        if request.stream:
            return run_generate_stream(request, json_errors=True)
        response = run_generate(request)
        if response.status_code != 200:
            return response
        return Response(b"[" + response.body + b"]", media_type="application/json")

    @app.post("/v1/chat/completions")
    def chat_completions(request: ChatRequest) -> Response:
        if not server.acquire():
            return overloaded
        handed_over = False
        try:
            ids, params, adapter = server.prepare_chat(request)
            if request.stream:
                response = streaming(server.chat_events(request, ids, params, adapter))
                handed_over = True  # the stream frees the slot when it ends
                return response
            return JSONResponse(server.chat(request, ids, params, adapter))
        except ValidationFailure as exc:
            return validation_response(str(exc), False)
        except GeneratorError as exc:
            return JSONResponse(error_body(str(exc), "generation"), status_code=424)
        finally:
            if not handed_over:
                server.release()

    @app.get("/info")
    def info() -> dict[str, Any]:
        return server.info()

    @app.get("/health")
    def health() -> Response:
        return Response(status_code=200)

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return server.models()

    return app
