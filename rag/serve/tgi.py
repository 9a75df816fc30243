"""A TGI-compatible HTTP server for CPU machines, serving the provisioned models.

Speaks Text Generation Inference's API (``/``, ``/generate``, ``/generate_stream``, ``/info``,
``/health``, ``/v1/chat/completions``, ``/v1/models``) over one in-process :class:`Engine`, so the
`tgi` backend runs end to end without a GPU and users can run the production topology locally.
Responses follow TGI's own OpenAPI description (``../shared/reference/tgi-openapi.json``; the tests
validate every route against it). Differences from TGI: one generation at a time (no continuous
batching), ``best_of`` 1, no grammars or tools, ``/v1/models`` additionally lists the model and its
adapters under ``data`` as OpenAI clients expect.

``adapter_id`` (native API) or ``model`` (Messages API) selects a LoRA adapter loaded with
``--lora-adapters name=path``; an unknown ``adapter_id`` is a validation error, while an unknown
``model`` means the base model, since OpenAI clients always send some model name.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import socket
import threading
import time
import uuid
import weakref
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from rag.generation.engine import Engine, GenerationStream, SamplingParams, Token
from rag.generation.errors import GeneratorError
from rag.generation.messages import message_text
from rag.generation.stops import StopTrimmer

API_VERSION = "3.3.6"  # the TGI API version of the reference description
DEFAULT_MAX_NEW_TOKENS = 1024  # TGI's documented default
MAX_STOP_SEQUENCES = 4
MAX_TOP_N_TOKENS = 5

# TGI's quantize names -> ours
QUANTIZE = {"bitsandbytes-nf4": "nf4", "bitsandbytes": "int8"}


# -- requests -----------------------------------------------------------------------------------


class GenerateParameters(BaseModel):
    model_config = ConfigDict(extra="ignore")

    adapter_id: str | None = None
    best_of: int | None = Field(default=None, gt=0)
    decoder_input_details: bool = False
    details: bool = False
    do_sample: bool = False
    frequency_penalty: float | None = Field(default=None, gt=-2)
    grammar: dict[str, Any] | None = None
    max_new_tokens: int | None = Field(default=None, ge=0)
    repetition_penalty: float | None = Field(default=None, gt=0)
    return_full_text: bool | None = None
    seed: int | None = Field(default=None, ge=0)
    stop: list[str] = Field(default_factory=list)
    temperature: float | None = Field(default=None, gt=0)
    top_k: int | None = Field(default=None, gt=0)
    top_n_tokens: int | None = Field(default=None, ge=0)
    top_p: float | None = Field(default=None, gt=0, le=1)
    truncate: int | None = Field(default=None, ge=0)
    typical_p: float | None = Field(default=None, gt=0, le=1)
    watermark: bool = False


class GenerateRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    inputs: str
    parameters: GenerateParameters = Field(default_factory=GenerateParameters)


class CompatGenerateRequest(GenerateRequest):
    stream: bool = False


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: str
    content: str | list[dict[str, Any]] | None = None
    tool_calls: list[dict[str, Any]] | None = None
    name: str | None = None


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    messages: list[ChatMessageIn]
    model: str | None = None
    max_tokens: int | None = Field(default=None, ge=0)
    max_completion_tokens: int | None = Field(default=None, ge=0)
    temperature: float | None = Field(default=None, ge=0)
    top_p: float | None = Field(default=None, gt=0, le=1)
    seed: int | None = Field(default=None, ge=0)
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0)
    n: int | None = Field(default=None, ge=0)
    tools: list[dict[str, Any]] | None = None
    tool_choice: Any = None
    response_format: dict[str, Any] | None = None


class ValidationFailure(ValueError):
    """A request TGI would reject with 422 and ``error_type: validation``."""


# -- responses ----------------------------------------------------------------------------------


def error_body(message: str, error_type: str) -> dict[str, str]:
    return {"error": message, "error_type": error_type}


def sse(data: dict[str, Any] | str) -> str:
    return f"data: {data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)}\n\n"


def token_json(token: Token) -> dict[str, Any]:
    return {"id": token.id, "text": token.text, "logprob": token.logprob, "special": token.special}


def prefill_json(token: Token) -> dict[str, Any]:
    return {"id": token.id, "text": token.text, "logprob": token.logprob}


def chat_logprob_json(token: Token) -> dict[str, Any]:
    return {
        "token": token.text,
        "logprob": token.logprob if token.logprob is not None else 0.0,
        "top_logprobs": [{"token": t.text, "logprob": t.logprob} for t in token.top_tokens],
    }


def package_version() -> str:
    try:
        return importlib.metadata.version("heise-rag")
    except importlib.metadata.PackageNotFoundError:
        return "dev"


CHAT_FINISH = {"eos_token": "stop", "stop_sequence": "stop", "length": "length"}


class TGIServer:
    """The routes' logic over one engine: validation as TGI does it, then generation."""

    def __init__(
        self,
        engine: Engine,
        *,
        model_id: str,
        max_input_tokens: int | None = None,
        max_total_tokens: int | None = None,
        max_concurrent_requests: int = 16,
    ) -> None:
        self.engine = engine
        self.model_id = model_id
        self.max_total_tokens = max_total_tokens or engine.max_position
        self.max_input_tokens = max_input_tokens or self.max_total_tokens - 1
        if self.max_input_tokens >= self.max_total_tokens:
            raise ValueError("max_input_tokens must be smaller than max_total_tokens")
        self.max_concurrent_requests = max_concurrent_requests
        self.created = int(time.time())
        self.fingerprint = f"{API_VERSION}-heise-rag-{package_version()}"
        self._in_flight = 0
        self._in_flight_lock = threading.Lock()

    # concurrency ------------------------------------------------------------------------------

    def acquire(self) -> bool:
        with self._in_flight_lock:
            if self._in_flight >= self.max_concurrent_requests:
                return False
            self._in_flight += 1
            return True

    def release(self) -> None:
        with self._in_flight_lock:
            self._in_flight -= 1

    # validation -------------------------------------------------------------------------------

    def _budget(self, input_length: int, max_new_tokens: int | None) -> int:
        if input_length > self.max_input_tokens:
            raise ValidationFailure(
                f"Input validation error: `inputs` must have less than {self.max_input_tokens} tokens. "
                f"Given: {input_length}"
            )
        if max_new_tokens is None:
            max_new_tokens = min(DEFAULT_MAX_NEW_TOKENS, self.max_total_tokens - input_length)
        if max_new_tokens <= 0:
            raise ValidationFailure("Input validation error: `max_new_tokens` must be strictly positive")
        if input_length + max_new_tokens > self.max_total_tokens:
            raise ValidationFailure(
                "Input validation error: `inputs` tokens + `max_new_tokens` must be <= "
                f"{self.max_total_tokens}. Given: {input_length} `inputs` tokens and "
                f"{max_new_tokens} `max_new_tokens`"
            )
        return max_new_tokens

    def _check_adapter(self, adapter_id: str | None) -> None:
        try:
            self.engine.check_adapter(adapter_id)
        except ValueError as exc:
            raise ValidationFailure(f"Input validation error: {exc}") from exc

    def prepare_generate(self, request: GenerateRequest) -> tuple[list[int], SamplingParams]:
        p = request.parameters
        if not request.inputs:
            raise ValidationFailure("Input validation error: `inputs` cannot be empty")
        if p.best_of is not None and p.best_of > 1:
            raise ValidationFailure("Input validation error: `best_of` must be <= 1 on this server")
        if p.grammar is not None:
            raise ValidationFailure("Input validation error: grammar is not supported by this server")
        if p.watermark:
            raise ValidationFailure("Input validation error: watermark is not supported by this server")
        if len(p.stop) > MAX_STOP_SEQUENCES:
            raise ValidationFailure(
                f"Input validation error: `stop` supports up to {MAX_STOP_SEQUENCES} stop sequences. "
                f"Given: {len(p.stop)}"
            )
        if (p.top_n_tokens or 0) > MAX_TOP_N_TOKENS:
            raise ValidationFailure(f"Input validation error: `top_n_tokens` must be <= {MAX_TOP_N_TOKENS}")
        self._check_adapter(p.adapter_id)
        bos = self.engine.tokenizer.bos_token
        ids = self.engine.encode(
            request.inputs, add_special_tokens=not (bos and request.inputs.startswith(bos))
        )
        if p.truncate:
            ids = ids[-p.truncate :]
        max_new_tokens = self._budget(len(ids), p.max_new_tokens)
        warpers = (
            (p.temperature is not None and p.temperature != 1.0)
            or bool(p.top_k)
            or (p.top_p is not None and p.top_p < 1.0)
            or (p.typical_p is not None and p.typical_p < 1.0)
        )
        params = SamplingParams(
            max_new_tokens=max_new_tokens,
            do_sample=p.do_sample or warpers,
            temperature=p.temperature,
            top_k=p.top_k,
            top_p=p.top_p,
            typical_p=p.typical_p,
            repetition_penalty=p.repetition_penalty,
            frequency_penalty=p.frequency_penalty,
            seed=p.seed,
            stop=tuple(p.stop),
            top_n_tokens=p.top_n_tokens or 0,
        )
        return ids, params

    def prepare_chat(self, request: ChatRequest) -> tuple[list[int], SamplingParams, str | None]:
        if not request.messages:
            raise ValidationFailure("Input validation error: `messages` cannot be empty")
        if request.tools:
            raise ValidationFailure("Input validation error: tools are not supported by this server")
        if request.response_format is not None:
            raise ValidationFailure("Input validation error: response_format is not supported by this server")
        if request.n not in (None, 1):
            raise ValidationFailure("Input validation error: `n` must be 1 on this server")
        if (request.top_logprobs or 0) > MAX_TOP_N_TOKENS:
            raise ValidationFailure(f"Input validation error: `top_logprobs` must be <= {MAX_TOP_N_TOKENS}")
        messages = []
        for message in request.messages:
            if message.tool_calls:
                raise ValidationFailure("Input validation error: tool calls are not supported by this server")
            messages.append({"role": message.role, "content": message_text(message.content or "")})
        try:
            ids = self.engine.encode_chat(messages)
        except Exception as exc:  # the model's template rejects the conversation (jinja raise_exception)
            raise ValidationFailure(f"Template error: {exc}") from exc
        stop = [request.stop] if isinstance(request.stop, str) else list(request.stop or [])
        if len(stop) > MAX_STOP_SEQUENCES:
            raise ValidationFailure(
                f"Input validation error: `stop` supports up to {MAX_STOP_SEQUENCES} sequences"
            )
        max_new_tokens = self._budget(len(ids), request.max_tokens or request.max_completion_tokens)
        # TGI: temperature 0 means greedy; unset means sampling at temperature 1 (OpenAI's default).
        greedy = request.temperature == 0.0
        params = SamplingParams(
            max_new_tokens=max_new_tokens,
            do_sample=not greedy,
            temperature=None if greedy else request.temperature,
            top_p=request.top_p,
            frequency_penalty=request.frequency_penalty or None,
            seed=request.seed,
            stop=tuple(stop),
            top_n_tokens=(request.top_logprobs or 0) if request.logprobs else 0,
        )
        adapter = request.model if request.model in self.engine.adapters else None
        return ids, params, adapter

    # native API -------------------------------------------------------------------------------

    def generate(self, request: GenerateRequest) -> dict[str, Any]:
        ids, params = self.prepare_generate(request)
        p = request.parameters
        prefill = (
            self.engine.prefill(ids, adapter=p.adapter_id) if p.details and p.decoder_input_details else []
        )
        stream = self.engine.stream(ids, params, adapter=p.adapter_id)
        tokens = list(stream)
        text = (request.inputs if p.return_full_text else "") + stream.text
        response: dict[str, Any] = {"generated_text": text}
        if p.details:
            response["details"] = {
                "finish_reason": stream.finish_reason,
                "generated_tokens": stream.generated_tokens,
                "seed": stream.seed,
                "prefill": [prefill_json(t) for t in prefill],
                "tokens": [token_json(t) for t in tokens],
                "top_tokens": [[token_json(t) for t in token.top_tokens] for token in tokens]
                if params.top_n_tokens
                else [],
            }
        return response

    def generate_events(
        self, request: GenerateRequest, ids: list[int], params: SamplingParams
    ) -> Iterator[str]:
        """TGI's token events; the last one carries ``generated_text`` and (if asked) ``details``."""
        p = request.parameters
        stream = self.engine.stream(ids, params, adapter=p.adapter_id)
        pending: Token | None = None
        index = 0
        text = ""
        try:
            for token in stream:
                index += 1
                if not token.special:
                    text += token.text
                final = (
                    token.id in self.engine.eos_ids
                    or index >= params.max_new_tokens
                    or any(stop in text for stop in params.stop)
                )
                if final:  # held back until the stream has ended and the details are known
                    pending = token
                    continue
                yield sse(self._stream_event(index, token))
            if pending is not None:
                generated_text = (request.inputs if p.return_full_text else "") + stream.text
                details = None
                if p.details:
                    details = {
                        "finish_reason": stream.finish_reason,
                        "generated_tokens": stream.generated_tokens,
                        "input_length": stream.input_length,
                        "seed": stream.seed,
                    }
                yield sse(self._stream_event(index, pending, generated_text, details))
        except GeneratorError as exc:
            yield sse(error_body(str(exc), "generation"))
        finally:
            stream.close()

    @staticmethod
    def _stream_event(
        index: int, token: Token, generated_text: str | None = None, details: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return {
            "index": index,
            "token": token_json(token),
            "top_tokens": [token_json(t) for t in token.top_tokens],
            "generated_text": generated_text,
            "details": details,
        }

    # Messages API -----------------------------------------------------------------------------

    def _chat_model(self, adapter: str | None) -> str:
        return adapter or self.model_id

    def chat(
        self, request: ChatRequest, ids: list[int], params: SamplingParams, adapter: str | None
    ) -> dict[str, Any]:
        stream = self.engine.stream(ids, params, adapter=adapter)
        trimmer = StopTrimmer(params.stop)
        content, logprobs = "", []
        for token in stream:
            if token.special:
                continue
            content += trimmer.feed(token.text)
            logprobs.append(token)
            if trimmer.stopped:
                break
        stream.close()
        content += trimmer.flush()
        finish = "stop" if trimmer.stopped else CHAT_FINISH.get(stream.finish_reason or "", "length")
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self._chat_model(adapter),
            "system_fingerprint": self.fingerprint,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "logprobs": {"content": [chat_logprob_json(t) for t in logprobs]}
                    if request.logprobs
                    else None,
                    "finish_reason": finish,
                }
            ],
            "usage": {
                "prompt_tokens": stream.input_length,
                "completion_tokens": stream.generated_tokens,
                "total_tokens": stream.input_length + stream.generated_tokens,
            },
        }

    def chat_events(
        self, request: ChatRequest, ids: list[int], params: SamplingParams, adapter: str | None
    ) -> Iterator[str]:
        stream: GenerationStream = self.engine.stream(ids, params, adapter=adapter)
        trimmer = StopTrimmer(params.stop)
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        include_usage = bool(request.stream_options and request.stream_options.include_usage)

        def chunk(content: str, finish: str | None, token: Token | None = None) -> str:
            logprobs = None
            if request.logprobs and token is not None:
                logprobs = {"content": [chat_logprob_json(token)]}
            return sse(
                {
                    "id": completion_id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": self._chat_model(adapter),
                    "system_fingerprint": self.fingerprint,
                    "choices": [
                        {
                            "index": 0,
                            "delta": {"role": "assistant", "content": content},
                            "logprobs": logprobs,
                            "finish_reason": finish,
                        }
                    ],
                    "usage": None,
                }
            )

        try:
            for token in stream:
                if token.special:
                    continue
                text = trimmer.feed(token.text)
                if text:
                    yield chunk(text, None, token)
                if trimmer.stopped:
                    break
            stream.close()
            finish = "stop" if trimmer.stopped else CHAT_FINISH.get(stream.finish_reason or "", "length")
            yield chunk(trimmer.flush(), finish)
            if include_usage:
                usage = {
                    "prompt_tokens": stream.input_length,
                    "completion_tokens": stream.generated_tokens,
                    "total_tokens": stream.input_length + stream.generated_tokens,
                }
                yield sse(
                    {
                        "id": completion_id,
                        "object": "chat.completion.chunk",
                        "created": created,
                        "model": self._chat_model(adapter),
                        "system_fingerprint": self.fingerprint,
                        "choices": [],
                        "usage": usage,
                    }
                )
            yield sse("[DONE]")
        except GeneratorError as exc:
            yield sse(error_body(str(exc), "generation"))
        finally:
            stream.close()

    # info -------------------------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "model_sha": None,
            "model_pipeline_tag": "text-generation",
            "max_concurrent_requests": self.max_concurrent_requests,
            "max_best_of": 1,
            "max_stop_sequences": MAX_STOP_SEQUENCES,
            "max_input_tokens": self.max_input_tokens,
            "max_total_tokens": self.max_total_tokens,
            "validation_workers": 1,
            "max_client_batch_size": 1,
            "router": "heise-rag-tgi-compatible",
            "version": API_VERSION,
            "sha": None,
            "docker_label": None,
        }

    def models(self) -> dict[str, Any]:
        entries = [
            {"id": name, "object": "model", "created": self.created, "owned_by": "heise-rag"}
            for name in [self.model_id, *self.engine.adapters]
        ]
        return {**entries[0], "data": entries}


def create_app(server: TGIServer) -> FastAPI:
    """The FastAPI application with TGI's routes over ``server``."""
    app = FastAPI(title="heise-rag TGI-compatible server", version=API_VERSION, docs_url=None, redoc_url=None)
    app.state.tgi = server

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
        try:
            ids, params = server.prepare_generate(request)
        except ValidationFailure as exc:
            return validation_response(str(exc), not json_errors)
        if not server.acquire():
            return overloaded
        return streaming(server.generate_events(request, ids, params))

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
        try:
            ids, params, adapter = server.prepare_chat(request)
        except ValidationFailure as exc:
            return validation_response(str(exc), False)
        if not server.acquire():
            return overloaded
        if request.stream:
            return streaming(server.chat_events(request, ids, params, adapter))
        try:
            return JSONResponse(server.chat(request, ids, params, adapter))
        except GeneratorError as exc:
            return JSONResponse(error_body(str(exc), "generation"), status_code=424)
        finally:
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


def parse_lora_adapters(value: str | None) -> dict[str, str]:
    """TGI's ``--lora-adapters``: ``name=path,...``; a bare entry is its own name (a hub id)."""
    adapters: dict[str, str] = {}
    for item in (value or "").split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, path = item.partition("=")
        name, path = name.strip(), path.strip()
        if sep and (not name or not path):
            raise ValueError(f"bad --lora-adapters entry {item!r}; expected name=path")
        adapters[name] = path if sep else name
    return adapters


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind before loading the model, so a taken port fails at once; port 0 picks a free one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


@contextlib.contextmanager
def running_server(
    app: FastAPI, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning"
) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a background thread; yields the base URL (tests, benchmarks)."""
    import uvicorn

    sock = bind_socket(host, port)
    config = uvicorn.Config(app, log_level=log_level, lifespan="off", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the TGI-compatible server did not start")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def build_server(
    model: str,
    *,
    cache_dir: Any,
    quantize: str | None = None,
    lora_adapters: dict[str, str] | None = None,
    device: str = "cpu",
    dtype: str = "auto",
    max_input_tokens: int | None = None,
    max_total_tokens: int | None = None,
    max_concurrent_requests: int = 16,
) -> TGIServer:
    """Load the model (and adapters) and wrap it; ``quantize`` takes TGI's names."""
    from rag.generation.engine import load_engine

    if quantize is not None and quantize not in QUANTIZE:
        raise ValueError(f"unsupported --quantize {quantize!r}; expected one of {', '.join(QUANTIZE)}")
    engine = load_engine(
        model,
        cache_dir=cache_dir,
        quantization=QUANTIZE[quantize] if quantize else "none",
        adapters=lora_adapters or None,
        device=device,
        dtype=dtype,
    )
    return TGIServer(
        engine,
        model_id=model,
        max_input_tokens=max_input_tokens,
        max_total_tokens=max_total_tokens,
        max_concurrent_requests=max_concurrent_requests,
    )


def run(
    model: str,
    *,
    cache_dir: Any,
    host: str = "127.0.0.1",
    port: int = 8080,
    quantize: str | None = None,
    lora_adapters: dict[str, str] | None = None,
    device: str = "cpu",
    dtype: str = "auto",
    max_input_tokens: int | None = None,
    max_total_tokens: int | None = None,
    max_concurrent_requests: int = 16,
    threads: int | None = None,
    log: Any = print,
) -> None:
    """`heise-rag serve tgi`: bind, load the model, then serve until interrupted."""
    import torch
    import uvicorn

    sock = bind_socket(host, port)
    if threads:
        torch.set_num_threads(threads)
    try:
        log(
            f"lade / loading {model} (dtype={dtype}, quantize={quantize or 'none'}, "
            f"adapters={sorted(lora_adapters or {})})"
        )
        server = build_server(
            model,
            cache_dir=cache_dir,
            quantize=quantize,
            lora_adapters=lora_adapters,
            device=device,
            dtype=dtype,
            max_input_tokens=max_input_tokens,
            max_total_tokens=max_total_tokens,
            max_concurrent_requests=max_concurrent_requests,
        )
        bound_host, bound_port = sock.getsockname()[:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        log(f"TGI-kompatibler Server bereit / TGI-compatible server ready: http://{shown}:{bound_port}")
        config = uvicorn.Config(create_app(server), log_level="info", timeout_graceful_shutdown=5)
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
