"""The `local` backend: a LangChain chat model running the generator in this process."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

import torch
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGenerationChunk
from pydantic import Field

from rag.core.modes import GeneratorEngine
from rag.generation.engine import Engine, SamplingParams, load_engine
from rag.generation.errors import GeneratorError
from rag.generation.messages import to_chat_dicts
from rag.generation.stops import StopTrimmer
from rag.generation.streaming import StreamingChatModel

# The name a configured LoRA adapter gets inside the peft model.
LOCAL_ADAPTER = "adapter"

FINISH_REASONS = {"eos_token": "stop", "stop_sequence": "stop", "length": "length"}


_WAIT_NOTICE: ContextVar[Callable[[], None] | None] = ContextVar("heise_rag_wait_notice", default=None)


@contextmanager
def notify_when_waiting(callback: Callable[[], None]) -> Iterator[None]:
    """Call ``callback`` when a local generation started in this context has to queue for its model.

    Why a context variable: the model sits deep inside a LangChain chain shared by every session,
    so the caller that wants to show "waiting" cannot hand a callback down the call; LangChain's
    worker threads copy the context, so the notice reaches the model step. The callback may run
    in such a worker thread.
    """
    token = _WAIT_NOTICE.set(callback)
    try:
        yield
    finally:
        _WAIT_NOTICE.reset(token)


def usage(input_tokens: int, output_tokens: int) -> UsageMetadata:
    return UsageMetadata(
        input_tokens=input_tokens, output_tokens=output_tokens, total_tokens=input_tokens + output_tokens
    )


class LocalChatModel(StreamingChatModel):
    """A provisioned instruct model (or folder / hub id) answering through its chat template.

    Greedy unless ``temperature > 0``; ``engine`` picks the runtime (transformers, or the int4 ONNX
    copy with a fallback to transformers); optional bitsandbytes NF4/int8 loading and a peft LoRA
    adapter (transformers only). The model loads on first use (or ``warm_up()``) and is shared by
    every instance with the same model, engine, quantization, adapter and device. ``stream()``
    yields text as tokens arrive; the last chunk carries ``usage_metadata`` and the finish reason.
    Per-call overrides: ``max_new_tokens`` (or ``max_tokens``), ``temperature``, ``seed``.
    Concurrent calls take turns on the shared model (see :func:`notify_when_waiting` to learn that a
    call queues).
    """

    model: str = "qwen2.5-coder-0.5b-instruct"
    model_cache_dir: Path
    quantization: Literal["none", "nf4", "int8"] = "none"
    engine: GeneratorEngine = "transformers"
    adapter: str | None = Field(default=None, description="Folder (or hub id) of a peft LoRA adapter.")
    device: str = "cpu"
    dtype: Literal["auto", "float32", "bfloat16"] = "auto"
    threads: int | None = Field(
        default=None,
        ge=1,
        description="torch threads (process-wide) or onnxruntime threads; None: all cores.",
    )
    lookup_tokens: int = Field(
        default=0, ge=0, description="Prompt-lookup guesses per step (openvino-int8 engine); 0: off."
    )
    max_new_tokens: int = Field(default=256, ge=1)
    temperature: float = Field(default=0.0, ge=0.0)
    top_p: float | None = None
    repetition_penalty: float | None = None
    seed: int | None = None

    @property
    def _llm_type(self) -> str:
        return "heise-rag-local"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "quantization": self.quantization,
            "engine": self.engine,
            "adapter": self.adapter,
            "dtype": self.dtype,
        }

    def warm_up(self) -> Engine:
        """Load the model now (otherwise the first call does)."""
        if self.threads:
            torch.set_num_threads(self.threads)
        return load_engine(
            self.model,
            cache_dir=self.model_cache_dir,
            quantization=self.quantization,
            adapters={LOCAL_ADAPTER: self.adapter} if self.adapter else None,
            device=self.device,
            dtype=self.dtype,
            runtime=self.engine,
            threads=self.threads,
            lookup_tokens=self.lookup_tokens,
        )

    def _sampling(self, stop: list[str] | None, kwargs: dict[str, Any]) -> SamplingParams:
        temperature = float(kwargs.get("temperature", self.temperature) or 0.0)
        return SamplingParams(
            max_new_tokens=int(kwargs.get("max_new_tokens", kwargs.get("max_tokens", self.max_new_tokens))),
            do_sample=temperature > 0,
            temperature=temperature or None,
            top_p=kwargs.get("top_p", self.top_p),
            repetition_penalty=kwargs.get("repetition_penalty", self.repetition_penalty),
            seed=kwargs.get("seed", self.seed),
            stop=tuple(stop or ()),
        )

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        engine = self.warm_up()
        input_ids = engine.encode_chat(to_chat_dicts(messages))
        sampling = self._sampling(stop, kwargs)
        if len(input_ids) + sampling.max_new_tokens > engine.max_position:
            raise GeneratorError(
                f"Der Prompt ist zu lang für {self.model}: {len(input_ids)} Tokens "
                f"+ {sampling.max_new_tokens} neue > Kontext {engine.max_position}"
            )
        generation = engine.stream(
            input_ids,
            sampling,
            adapter=LOCAL_ADAPTER if self.adapter else None,
            on_wait=_WAIT_NOTICE.get(),
        )
        trimmer = StopTrimmer(stop)
        try:
            for token in generation:
                text = "" if token.special else trimmer.feed(token.text)
                if text:
                    chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
                    if run_manager:
                        run_manager.on_llm_new_token(text, chunk=chunk)
                    yield chunk
                if trimmer.stopped:
                    break
        finally:
            generation.close()
        tail = trimmer.flush()
        finish = "stop" if trimmer.stopped else FINISH_REASONS.get(generation.finish_reason or "", "length")
        last = AIMessageChunk(
            content=tail,
            usage_metadata=usage(generation.input_length, generation.generated_tokens),
            response_metadata={"finish_reason": finish, "model_name": self.model},
        )
        chunk = ChatGenerationChunk(message=last, generation_info={"finish_reason": finish})
        if run_manager and tail:
            run_manager.on_llm_new_token(tail, chunk=chunk)
        yield chunk
