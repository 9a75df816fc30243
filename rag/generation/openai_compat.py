"""The `openai` backend: any OpenAI-compatible chat server (vLLM, llama.cpp, TGI's or our own `/v1`).

Built on langchain-openai's ``BaseChatOpenAI`` rather than ``ChatOpenAI``: the latter renames
``max_tokens`` to ``max_completion_tokens``, which TGI's Messages API does not read, while every
compatible server reads ``max_tokens``. Connection failures (after the SDK's own retries) become
:class:`GeneratorUnavailableError` naming the URL; HTTP errors become :class:`GeneratorError`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import openai
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_openai.chat_models.base import BaseChatOpenAI

from rag.generation.errors import GeneratorError, GeneratorUnavailableError


def openai_base_url(url: str) -> str:
    """``http://host:port`` or ``http://host:port/v1`` -> the ``/v1`` base the OpenAI SDK expects."""
    url = url.rstrip("/")
    return url if url.endswith("/v1") else f"{url}/v1"


class OpenAICompatibleChatModel(BaseChatOpenAI):
    """``BaseChatOpenAI`` whose errors name the server and read in German and English."""

    @property
    def _llm_type(self) -> str:
        return "heise-rag-openai-compatible"

    def _translate(self, exc: Exception) -> GeneratorError:
        url = str(self.openai_api_base)
        if isinstance(exc, openai.APITimeoutError):
            return GeneratorUnavailableError(
                url, f"keine Antwort / no answer within {self.request_timeout} s"
            )
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc
            return GeneratorUnavailableError(url, f"{type(cause).__name__}: {cause}")
        return GeneratorError(f"Der Generator-Server unter {url} meldet einen Fehler / server error: {exc}")

    def _stream(self, *args: Any, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        try:
            yield from super()._stream(*args, **kwargs)
        except openai.OpenAIError as exc:
            raise self._translate(exc) from exc

    def _generate(self, *args: Any, **kwargs: Any) -> ChatResult:
        try:
            return super()._generate(*args, **kwargs)
        except openai.OpenAIError as exc:
            raise self._translate(exc) from exc

    async def _astream(self, *args: Any, **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
        try:
            async for chunk in super()._astream(*args, **kwargs):
                yield chunk
        except openai.OpenAIError as exc:
            raise self._translate(exc) from exc

    async def _agenerate(self, *args: Any, **kwargs: Any) -> ChatResult:
        try:
            return await super()._agenerate(*args, **kwargs)
        except openai.OpenAIError as exc:
            raise self._translate(exc) from exc
