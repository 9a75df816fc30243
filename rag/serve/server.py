"""The routes' logic over one engine: validation as TGI does it, generation, concurrency slots."""

from __future__ import annotations

import importlib.metadata
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

from rag.generation.engine import Engine, GenerationStream, SamplingParams, Token
from rag.generation.errors import GeneratorError
from rag.generation.messages import message_text
from rag.generation.stops import StopTrimmer
from rag.serve.defaults import DEFAULT_REQUEST_TIMEOUT
from rag.serve.schemas import (
    API_VERSION,
    DEFAULT_MAX_NEW_TOKENS,
    MAX_STOP_SEQUENCES,
    MAX_TOP_N_TOKENS,
    ChatRequest,
    GenerateRequest,
    ValidationFailure,
    chat_logprob_json,
    error_body,
    prefill_json,
    sse,
    token_json,
)


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
        request_timeout: float | None = DEFAULT_REQUEST_TIMEOUT,
    ) -> None:
        self.engine = engine
        self.model_id = model_id
        self.max_total_tokens = max_total_tokens or engine.max_position
        self.max_input_tokens = max_input_tokens or self.max_total_tokens - 1
        if self.max_input_tokens >= self.max_total_tokens:
            raise ValueError("max_input_tokens must be smaller than max_total_tokens")
        self.max_concurrent_requests = max_concurrent_requests
        if request_timeout is not None and request_timeout <= 0:
            raise ValueError("request_timeout must be positive")
        self.request_timeout = request_timeout
        self.created = int(time.time())
        self.fingerprint = f"{API_VERSION}-heise-rag-{package_version()}"
        self._in_flight = 0
        self._in_flight_lock = threading.Lock()

    # concurrency ------------------------------------------------------------------------------

    def acquire(self) -> bool:
        """Take a request slot, or False when all are taken (the route answers 429)."""
        with self._in_flight_lock:
            if self._in_flight >= self.max_concurrent_requests:
                return False
            self._in_flight += 1
            return True

    def release(self) -> None:
        """Free a slot taken by :meth:`acquire`."""
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

    def _stream(self, ids: list[int], params: SamplingParams, adapter: str | None) -> GenerationStream:
        """Every generation of the routes: bounded by the request timeout, queueing included."""
        try:
            return self.engine.stream(ids, params, adapter=adapter, timeout=self.request_timeout)
        except ValueError as exc:  # an option the engine's runtime cannot honour
            raise ValidationFailure(f"Input validation error: {exc}") from exc

    # native API -------------------------------------------------------------------------------

    def generate(self, request: GenerateRequest) -> dict[str, Any]:
        ids, params = self.prepare_generate(request)
        p = request.parameters
        prefill = (
            self.engine.prefill(ids, adapter=p.adapter_id) if p.details and p.decoder_input_details else []
        )
        stream = self._stream(ids, params, p.adapter_id)
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
        stream = self._stream(ids, params, p.adapter_id)
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
        stream = self._stream(ids, params, adapter)
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
        stream = self._stream(ids, params, adapter)
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
