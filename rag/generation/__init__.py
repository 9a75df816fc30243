"""Answer generators as LangChain chat models, chosen by settings (`prompt | make_chat_model(s)`).

- ``local``: :class:`LocalChatModel`, in this process (onnxruntime-genai or transformers);
- ``tgi``: :class:`TGIChatModel`, ``huggingface_hub.InferenceClient`` against ``generator_url``;
- ``openai``: :class:`OpenAICompatibleChatModel`, any OpenAI-compatible server at ``generator_url``.

Every backend streams (``chat_model.stream(messages)`` yields text chunks as tokens arrive) and puts
token counts into ``usage_metadata`` of the last chunk. Remote failures raise
:class:`GeneratorUnavailableError` (unreachable, naming the URL) or :class:`GeneratorError`.
"""

from __future__ import annotations

from langchain_core.language_models import BaseChatModel
from pydantic import SecretStr

from rag.core.settings import Settings
from rag.generation.errors import GeneratorError, GeneratorUnavailableError

BACKENDS = ("local", "tgi", "openai")

__all__ = ["BACKENDS", "GeneratorError", "GeneratorUnavailableError", "make_chat_model"]


def make_chat_model(settings: Settings, backend: str | None = None) -> BaseChatModel:
    """The chat model of ``backend`` (default: ``settings.generator_backend``), configured by settings.

    Nothing is loaded or contacted here: the local model loads on first use (or ``warm_up()``), a
    remote server is first called by the first request (``warm_up()`` checks it up front).
    """
    backend = backend or settings.generator_backend
    if backend == "local":
        from rag.generation.local import LocalChatModel

        return LocalChatModel(
            model=settings.generator_model,
            model_cache_dir=settings.model_cache_dir,
            quantization=settings.generator_quantization,
            engine=settings.generator_engine,
            adapter=settings.generator_adapter,
            device=settings.device,
            threads=settings.generator_threads,
            lookup_tokens=settings.generator_lookup_tokens,
            dtype=settings.generator_dtype,
            max_new_tokens=settings.generator_max_new_tokens,
            temperature=settings.generator_temperature,
        )
    if backend not in BACKENDS:
        raise GeneratorError(f"Unbekanntes Generator-Backend {backend!r}; erwartet: {', '.join(BACKENDS)}")
    if not settings.generator_url:
        raise GeneratorError(
            f"Für das Backend {backend!r} fehlt HEISE_RAG_GENERATOR_URL (z. B. http://127.0.0.1:8080)"
        )
    if backend == "tgi":
        from rag.generation.tgi import TGIChatModel

        return TGIChatModel(
            base_url=settings.generator_url,
            api=settings.generator_tgi_api,
            adapter_id=settings.generator_adapter_id,
            tokenizer_model=settings.generator_model,
            model_cache_dir=settings.model_cache_dir,
            api_key=settings.generator_api_key,
            max_new_tokens=settings.generator_max_new_tokens,
            temperature=settings.generator_temperature,
            timeout=settings.generator_timeout,
            retries=settings.generator_retries,
        )
    from rag.generation.openai_compat import OpenAICompatibleChatModel, openai_base_url

    return OpenAICompatibleChatModel(
        base_url=openai_base_url(settings.generator_url),
        api_key=settings.generator_api_key or SecretStr("none"),
        model=settings.generator_adapter_id or settings.generator_remote_model,
        temperature=settings.generator_temperature,
        max_tokens=settings.generator_max_new_tokens,
        timeout=settings.generator_timeout,
        max_retries=settings.generator_retries,
        stream_usage=True,
    )
