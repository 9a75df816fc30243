"""The `tgi` backend: a LangChain chat model talking to a Text Generation Inference server.

Two paths through ``huggingface_hub.InferenceClient``:

- ``api="chat"`` (default): TGI's Messages API ``/v1/chat/completions``; the server applies the
  model's chat template, so nothing about the model is needed here. A LoRA adapter is selected with
  the request's ``model`` field (how TGI's Messages API picks one).
- ``api="generate"``: native ``text_generation`` with ``stream=True, details=True`` (TGI's token
  events); the prompt is rendered here with the chat template of the locally resolved tokenizer
  (the ``tokenizer_model`` setting, which must match the served model), ``adapter_id`` is sent as
  such.

Connection errors (and 503 while a server starts) are retried with exponential back-off before any
token has arrived; a server that stays unreachable raises :class:`GeneratorUnavailableError` naming
the URL. No Hugging Face token is ever sent unless ``api_key`` is configured, and no host but the
server is contacted (hub telemetry is switched off unless ``HF_HUB_DISABLE_TELEMETRY`` is set).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, TypeVar

import httpx
from huggingface_hub import InferenceClient
from huggingface_hub import constants as hf_constants
from huggingface_hub.errors import HfHubHTTPError, InferenceTimeoutError, TextGenerationError
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk
from pydantic import Field, SecretStr

from rag.generation.engine import FALLBACK_CHAT_TEMPLATE
from rag.generation.errors import GeneratorError, GeneratorUnavailableError
from rag.generation.local import FINISH_REASONS, usage
from rag.generation.messages import to_chat_dicts
from rag.generation.stops import StopTrimmer
from rag.generation.streaming import StreamingChatModel
from rag.models.resolve import resolve_model

# Sent instead of a token when none is configured, so the client never falls back to the locally
# saved Hugging Face token and leaks it to an arbitrary server.
NO_API_KEY = "none"
_RETRY_STATUS = {503}

T = TypeVar("T")


@lru_cache(maxsize=8)
def _chat_tokenizer(path: str) -> Any:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.chat_template is None:
        tokenizer.chat_template = FALLBACK_CHAT_TEMPLATE
    return tokenizer


def tgi_root(url: str) -> str:
    """The server root: TGI's native routes live there, the Messages API under ``/v1``."""
    return url.rstrip("/").removesuffix("/v1")


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class TGIChatModel(StreamingChatModel):
    """Chat model for a TGI server (or the project's own TGI-compatible server)."""

    base_url: str
    api: Literal["chat", "generate"] = "chat"
    adapter_id: str | None = None
    model_name: str = Field(default="tgi", description="`model` sent to the Messages API without adapter.")
    tokenizer_model: str | None = Field(
        default=None, description="Model setting whose chat template renders prompts for api='generate'."
    )
    model_cache_dir: Path | None = None
    api_key: SecretStr | None = None
    max_new_tokens: int = Field(default=512, ge=1)
    temperature: float = Field(default=0.0, ge=0.0)
    top_p: float | None = None
    seed: int | None = None
    timeout: float = Field(default=120.0, gt=0)
    retries: int = Field(default=2, ge=0)
    retry_backoff: float = Field(default=0.5, ge=0)

    @property
    def _llm_type(self) -> str:
        return "heise-rag-tgi"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"base_url": self.base_url, "api": self.api, "adapter_id": self.adapter_id}

    @property
    def root(self) -> str:
        return tgi_root(self.base_url)

    def _client(self) -> InferenceClient:
        if "HF_HUB_DISABLE_TELEMETRY" not in os.environ:
            # huggingface_hub otherwise looks up huggingface.co once per process (agent telemetry
            # in the user agent, up to 3 s): this project runs offline, so only the server is called.
            hf_constants.HF_HUB_DISABLE_TELEMETRY = True
        key = self.api_key.get_secret_value() if self.api_key else NO_API_KEY
        return InferenceClient(base_url=self.root, api_key=key, timeout=self.timeout)

    def warm_up(self) -> dict[str, Any]:
        """Check the server now: its ``/info`` (model id, limits), or the clear error naming the URL."""
        headers = {"Authorization": f"Bearer {self.api_key.get_secret_value()}"} if self.api_key else {}
        try:
            response = httpx.get(f"{self.root}/info", timeout=min(self.timeout, 10.0), headers=headers)
        except httpx.HTTPError as exc:
            raise GeneratorUnavailableError(self.root, _reason(exc)) from exc
        if response.status_code != 200:
            raise GeneratorUnavailableError(self.root, f"GET /info: HTTP {response.status_code}")
        return response.json()

    # -- calling the server -------------------------------------------------------------------

    def _open(self, call: Callable[[], T]) -> T:
        """Start a request, retrying connection failures (and 503) with exponential back-off."""
        delay = self.retry_backoff
        for attempt in range(self.retries + 1):
            try:
                return call()
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                last: BaseException = exc
            except HfHubHTTPError as exc:
                status = exc.response.status_code if exc.response is not None else None
                if status not in _RETRY_STATUS:
                    raise self._server_error(exc) from exc
                last = exc
            except Exception as exc:
                raise self._translate(exc) from exc
            if attempt < self.retries:
                time.sleep(delay)
                delay *= 2
        raise GeneratorUnavailableError(self.root, f"{_reason(last)}; {self.retries + 1} Versuche")

    def _server_error(self, exc: BaseException) -> GeneratorError:
        return GeneratorError(
            f"Der Generator-Server unter {self.root} meldet einen Fehler / server error: {exc}"
        )

    def _translate(self, exc: BaseException) -> GeneratorError:
        if isinstance(exc, GeneratorError):
            return exc
        if isinstance(exc, httpx.TimeoutException | InferenceTimeoutError | TimeoutError):
            return GeneratorUnavailableError(
                self.root, f"keine Antwort in {self.timeout:g} s / no answer within {self.timeout:g} s"
            )
        if isinstance(exc, httpx.TransportError):
            return GeneratorUnavailableError(
                self.root, f"Verbindung abgebrochen / connection lost: {_reason(exc)}"
            )
        if isinstance(exc, HfHubHTTPError | TextGenerationError):
            return self._server_error(exc)
        return GeneratorError(f"Antwort von {self.root} unbrauchbar / unusable answer: {_reason(exc)}")

    def _guarded(self, events: Iterable[T]) -> Iterator[T]:
        iterator = iter(events)
        while True:
            try:
                event = next(iterator)
            except StopIteration:
                return
            except Exception as exc:
                raise self._translate(exc) from exc
            yield event

    # -- the two API paths -----------------------------------------------------------------------

    def _chat_events(
        self,
        client: InferenceClient,
        messages: list[BaseMessage],
        stop: list[str] | None,
        kwargs: dict[str, Any],
    ) -> Iterator[tuple[str, str | None, tuple[int, int] | None]]:
        stream = self._open(
            lambda: client.chat_completion(
                to_chat_dicts(messages),
                model=kwargs.get("adapter_id", self.adapter_id) or self.model_name,
                stream=True,
                max_tokens=int(kwargs.get("max_new_tokens", kwargs.get("max_tokens", self.max_new_tokens))),
                temperature=float(kwargs.get("temperature", self.temperature)),
                top_p=kwargs.get("top_p", self.top_p),
                seed=kwargs.get("seed", self.seed),
                stop=stop or None,
                stream_options={"include_usage": True},
            )
        )
        for chunk in self._guarded(stream):
            counts = (chunk.usage.prompt_tokens, chunk.usage.completion_tokens) if chunk.usage else None
            if not chunk.choices:
                yield "", None, counts
            for choice in chunk.choices:
                yield (choice.delta.content or "") if choice.delta else "", choice.finish_reason, counts

    def _generate_events(
        self,
        client: InferenceClient,
        messages: list[BaseMessage],
        stop: list[str] | None,
        kwargs: dict[str, Any],
    ) -> Iterator[tuple[str, str | None, tuple[int, int] | None]]:
        if not self.tokenizer_model or self.model_cache_dir is None:
            raise GeneratorError("api='generate' braucht tokenizer_model für die Vorlage")
        tokenizer = _chat_tokenizer(resolve_model(self.tokenizer_model, self.model_cache_dir))
        prompt = tokenizer.apply_chat_template(
            to_chat_dicts(messages), tokenize=False, add_generation_prompt=True
        )
        temperature = float(kwargs.get("temperature", self.temperature))
        stream = self._open(
            lambda: client.text_generation(
                prompt,
                stream=True,
                details=True,
                adapter_id=kwargs.get("adapter_id", self.adapter_id),
                max_new_tokens=int(
                    kwargs.get("max_new_tokens", kwargs.get("max_tokens", self.max_new_tokens))
                ),
                do_sample=temperature > 0,
                temperature=temperature or None,
                top_p=kwargs.get("top_p", self.top_p),
                seed=kwargs.get("seed", self.seed),
                stop=(stop or [])[:4],
            )
        )
        for event in self._guarded(stream):
            text = "" if event.token.special else event.token.text
            if event.details is not None:
                details = event.details
                reason = FINISH_REASONS.get(str(details.finish_reason), str(details.finish_reason))
                yield text, reason, (details.input_length or 0, details.generated_tokens)
            else:
                yield text, None, None

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        client = self._client()
        events = (self._chat_events if self.api == "chat" else self._generate_events)(
            client, messages, stop, kwargs
        )
        trimmer = StopTrimmer(stop)
        finish: str | None = None
        counts: tuple[int, int] | None = None
        try:
            for text, reason, event_counts in events:
                finish = reason or finish
                counts = event_counts or counts
                text = trimmer.feed(text)
                if text:
                    chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
                    if run_manager:
                        run_manager.on_llm_new_token(text, chunk=chunk)
                    yield chunk
                if trimmer.stopped:
                    finish = "stop"
                    break
        finally:
            client.close()
        tail = trimmer.flush()
        metadata: dict[str, Any] = {
            "finish_reason": finish or "stop",
            "model_name": self.adapter_id or self.model_name,
        }
        last = AIMessageChunk(
            content=tail,
            usage_metadata=usage(*counts) if counts else None,
            response_metadata=metadata,
        )
        chunk = ChatGenerationChunk(
            message=last, generation_info={"finish_reason": metadata["finish_reason"]}
        )
        if run_manager and tail:
            run_manager.on_llm_new_token(tail, chunk=chunk)
        yield chunk
