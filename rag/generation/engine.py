"""In-process generation, shared by the `local` backend and the TGI-compatible server.

An :class:`Engine` holds one loaded model and its tokenizer. :class:`TransformersEngine` runs
transformers (float32 or bfloat16, or bitsandbytes NF4/int8, optionally with peft LoRA adapters);
``rag.generation.onnx_engine.OnnxEngine`` runs an int8 or int4 ONNX copy with onnxruntime-genai,
``rag.generation.openvino_engine.OpenVinoEngine`` the int8 OpenVINO copy with OpenVINO GenAI, and
:func:`load_engine` falls back from it to transformers, with a warning, wherever it cannot run.
:func:`load_engine` loads each combination of model, runtime, quantization, adapters, device and
dtype once per process. :meth:`Engine.stream` generates in a worker thread and hands tokens over
through a queue as they are produced, each with its id, its text (incremental detokenization as TGI
does it, so multi-byte characters split over tokens come out whole) and its log-probability.
Generations on one engine are serialized by its lock, so concurrent callers (app sessions, CLI,
server requests) each get a whole, ungarbled answer in turn; a generation that has to queue says so
(``GenerationStream.waiting``, the ``on_wait`` callback, ``Engine.waiting``), so a user interface
can show that it waits for the model. An optional ``timeout`` bounds a generation, queueing
included.
"""

from __future__ import annotations

import gc
import logging
import math
import queue
import random
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    BitsAndBytesConfig,
    GenerationConfig,
    LogitsProcessor,
    LogitsProcessorList,
    StoppingCriteria,
    StoppingCriteriaList,
)
from transformers.generation.streamers import BaseStreamer

from rag.core.modes import GENERATOR_ENGINES
from rag.generation.errors import GenerationTimeoutError, GeneratorError
from rag.models.adapters import peft_quietly
from rag.models.dtypes import inference_dtype
from rag.models.resolve import resolve_model

Quantization = Literal["none", "nf4", "int8"]
FinishReason = Literal["length", "eos_token", "stop_sequence"]
QUANTIZATIONS: tuple[str, ...] = ("none", "nf4", "int8")
# The runtimes behind the same Engine interface (the `generator_engine` setting).
RUNTIMES: tuple[str, ...] = GENERATOR_ENGINES
# bfloat16 halves prefill time on CPUs with AVX512-BF16/AMX; float32 is safe everywhere.
# bitsandbytes' 8-bit matmul warns on every forward pass on CPU; the cast is expected there.
warnings.filterwarnings("ignore", message="MatMul8bitLt: inputs will be cast")

# For models that ship without a chat template (tiny-random-llama, base models).
FALLBACK_CHAT_TEMPLATE = (
    "{{ bos_token if bos_token else '' }}"
    "{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


@dataclass(frozen=True)
class SamplingParams:
    """How to decode: greedy unless ``do_sample``; ``stop`` ends generation at any of the strings."""

    max_new_tokens: int = 256
    do_sample: bool = False
    temperature: float | None = None
    top_k: int | None = None
    top_p: float | None = None
    typical_p: float | None = None
    repetition_penalty: float | None = None
    frequency_penalty: float | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()
    top_n_tokens: int = 0


@dataclass(frozen=True)
class Token:
    """One generated token as TGI reports it."""

    id: int
    text: str
    logprob: float | None
    special: bool
    top_tokens: tuple[Token, ...] = ()


def quantization_config(
    quantization: str, compute_dtype: torch.dtype = torch.float32
) -> BitsAndBytesConfig | None:
    """bitsandbytes settings: 4-bit NF4 with double quantization, or 8-bit; None for full precision."""
    if quantization == "none":
        return None
    if quantization == "nf4":
        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=compute_dtype,
        )
    if quantization == "int8":
        return BitsAndBytesConfig(load_in_8bit=True)
    raise ValueError(f"unknown quantization {quantization!r}; expected one of {', '.join(QUANTIZATIONS)}")


class _Capture(LogitsProcessor):
    """Keeps the log-probabilities of the current step so the streamer can report the chosen token's."""

    def __init__(self) -> None:
        self.last: torch.Tensor | None = None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        self.last = torch.log_softmax(scores[0].float(), dim=-1)
        return scores


class _FrequencyPenalty(LogitsProcessor):
    """OpenAI/TGI frequency penalty: subtract ``penalty * count`` for every token generated so far."""

    def __init__(self, penalty: float, prompt_length: int) -> None:
        self.penalty = penalty
        self.prompt_length = prompt_length

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        generated = input_ids[:, self.prompt_length :]
        if generated.shape[1] == 0:
            return scores
        ones = torch.ones(generated.shape, dtype=scores.dtype, device=scores.device)
        counts = torch.zeros_like(scores).scatter_add_(1, generated, ones)
        return scores - self.penalty * counts


class _Cancelled(StoppingCriteria):
    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(
        self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any
    ) -> torch.BoolTensor:
        return torch.full(
            (input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device
        )


def _finite(value: float) -> float | None:
    """A log-probability JSON can carry (``-inf`` for a masked token is not valid JSON)."""
    return value if math.isfinite(value) else None


class _QueueStreamer(BaseStreamer):
    """Receives each new token id from ``generate`` and queues it with its log-probabilities."""

    def __init__(self, capture: _Capture, out: queue.Queue[Any], top_n: int) -> None:
        self.capture = capture
        self.out = out
        self.top_n = top_n
        self.prompt_seen = False

    def put(self, value: torch.Tensor) -> None:
        if not self.prompt_seen:  # generate() first hands over the prompt
            self.prompt_seen = True
            return
        token_id = int(value.reshape(-1)[0])
        logprobs = self.capture.last
        logprob = _finite(float(logprobs[token_id])) if logprobs is not None else None
        top: list[tuple[int, float | None]] = []
        if self.top_n and logprobs is not None:
            values, ids = torch.topk(logprobs, self.top_n)
            top = [(int(i), _finite(float(v))) for v, i in zip(values, ids, strict=True)]
        self.out.put((token_id, logprob, top))

    def end(self) -> None:
        pass


class _Detokenizer:
    """Incremental decoding with a prefix window (TGI's ``decode_token``): a token whose bytes do not
    yet form a whole character yields ``""`` and its text comes with the next one."""

    def __init__(self, tokenizer: Any, context: Sequence[int]) -> None:
        self.tokenizer = tokenizer
        self.ids = list(context[-5:])
        self.prefix_offset = 0
        self.read_offset = len(self.ids)

    def add(self, token_id: int) -> str:
        self.ids.append(token_id)
        decode = self.tokenizer.decode
        prefix = decode(self.ids[self.prefix_offset : self.read_offset], skip_special_tokens=False)
        text = decode(self.ids[self.prefix_offset :], skip_special_tokens=False)
        if len(text) > len(prefix) and not text.endswith("\ufffd"):
            self.prefix_offset, self.read_offset = self.read_offset, len(self.ids)
            return text[len(prefix) :]
        return ""


_END = object()
_WAITING = object()  # the worker found the engine busy and queues for its lock


class GenerationStream:
    """Tokens as the model produces them. Once iteration ends, ``text`` (special tokens skipped),
    ``finish_reason``, ``generated_tokens``, ``input_length`` and ``seed`` are set. Leaving the loop
    early (``break``, ``close()``) stops the generation at the next step.

    ``waiting`` is true while another generation holds the engine; ``on_wait`` is then called once,
    in the consuming thread. Past ``timeout`` seconds (queueing included) iteration raises
    :class:`GenerationTimeoutError` and the generation is cancelled.
    """

    def __init__(
        self,
        engine: Engine,
        input_ids: Sequence[int],
        params: SamplingParams,
        adapter: str | None,
        *,
        on_wait: Callable[[], None] | None = None,
        timeout: float | None = None,
    ):
        self.engine = engine
        self.waiting = False
        self._on_wait = on_wait
        self._timeout = timeout
        self._deadline = None if timeout is None else time.monotonic() + timeout
        self.params = params
        self.input_length = len(input_ids)
        self.seed = (
            params.seed if params.seed is not None else (random.getrandbits(63) if params.do_sample else None)
        )
        self.generated_tokens = 0
        self.finish_reason: FinishReason | None = None
        self.text = ""
        self._ids: list[int] = []
        self._queue: queue.Queue[Any] = queue.Queue()
        self._cancel = threading.Event()
        self._detok = _Detokenizer(engine.tokenizer, input_ids)
        self._iterator = self._tokens()
        self._thread = threading.Thread(
            target=engine._generate_into,
            args=(list(input_ids), params, adapter, self.seed, self._queue, self._cancel),
            name="heise-rag-generate",
            daemon=True,
        )
        self._thread.start()

    def __iter__(self) -> Iterator[Token]:
        return self._iterator

    def __next__(self) -> Token:
        return next(self._iterator)

    def close(self) -> None:
        """Stop generating; the worker thread ends after the current step."""
        self._cancel.set()
        self._iterator.close()

    def _next_item(self) -> Any:
        if self._deadline is None:
            return self._queue.get()
        try:
            return self._queue.get(timeout=max(0.0, self._deadline - time.monotonic()))
        except queue.Empty:
            assert self._timeout is not None
            raise GenerationTimeoutError(self._timeout) from None

    def _tokens(self) -> Iterator[Token]:
        engine = self.engine
        try:
            while True:
                item = self._next_item()
                if item is _WAITING:
                    self.waiting = True
                    if self._on_wait is not None:
                        self._on_wait()
                    continue
                self.waiting = False
                if item is _END:
                    break
                if isinstance(item, BaseException):
                    raise GeneratorError(f"Generierung fehlgeschlagen ({engine.name}): {item}") from item
                token_id, logprob, top = item
                self._ids.append(token_id)
                self.generated_tokens += 1
                yield Token(
                    id=token_id,
                    text=engine.token_text(token_id)
                    if token_id in engine.special_ids
                    else self._detok.add(token_id),
                    logprob=logprob,
                    special=token_id in engine.special_ids,
                    top_tokens=tuple(
                        Token(id=i, text=engine.token_text(i), logprob=lp, special=i in engine.special_ids)
                        for i, lp in top
                    ),
                )
            self._finish()
        finally:
            self._cancel.set()

    def _finish(self) -> None:
        self._thread.join()
        self.text = self.engine.tokenizer.decode(self._ids, skip_special_tokens=True)
        if self._ids and self._ids[-1] in self.engine.eos_ids:
            self.finish_reason = "eos_token"
        elif self.params.stop and any(stop in self.text for stop in self.params.stop):
            self.finish_reason = "stop_sequence"
        else:
            self.finish_reason = "length"


class Engine:
    """What the `local` backend and the TGI-compatible server need from a loaded model.

    The tokenizer side (chat template, encoding, incremental detokenization, stop ids), the lock
    that serializes generations and the queueing notice are shared; a runtime supplies
    :meth:`prefill` and :meth:`_generate_into`. Use :func:`load_engine` to get a cached one.
    ``runtime`` names the runtime that actually runs, after any fallback.
    """

    runtime = "transformers"

    def __init__(
        self,
        name: str,
        tokenizer: Any,
        generation_config: GenerationConfig,
        max_position: int,
        *,
        quantization: str = "none",
        adapters: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.tokenizer = tokenizer
        self.quantization = quantization
        self.adapters = dict(adapters or {})
        self.lock = threading.Lock()
        self._waiting = 0
        self._waiting_lock = threading.Lock()
        self.special_ids = set(tokenizer.all_special_ids) | {
            i for i, added in tokenizer.added_tokens_decoder.items() if added.special
        }
        config = generation_config
        eos = config.eos_token_id if config.eos_token_id is not None else tokenizer.eos_token_id
        self.eos_ids: set[int] = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        self.pad_id = config.pad_token_id if config.pad_token_id is not None else next(iter(self.eos_ids), 0)
        self.bos_id = config.bos_token_id
        self.max_position = max_position

    @staticmethod
    def load_tokenizer(path: str) -> Any:
        """The folder's tokenizer, with a plain chat template where the model ships none."""
        tokenizer = AutoTokenizer.from_pretrained(path)
        if tokenizer.chat_template is None:
            tokenizer.chat_template = FALLBACK_CHAT_TEMPLATE
        return tokenizer

    @staticmethod
    def context_length(model_config: Any, tokenizer: Any) -> int:
        return int(
            getattr(model_config, "max_position_embeddings", None) or tokenizer.model_max_length or 2048
        )

    def render_chat(self, messages: Sequence[Mapping[str, str]]) -> str:
        """The prompt text for a conversation, ending where the assistant's answer begins."""
        return self.tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)

    def encode(self, text: str, *, add_special_tokens: bool = True) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=add_special_tokens)["input_ids"])

    def encode_chat(self, messages: Sequence[Mapping[str, str]]) -> list[int]:
        """Token ids of the rendered conversation (the template already holds any special tokens)."""
        return self.encode(self.render_chat(messages), add_special_tokens=False)

    def token_text(self, token_id: int) -> str:
        return self.tokenizer.decode([token_id], skip_special_tokens=False)

    def check_adapter(self, adapter: str | None) -> None:
        if adapter is not None and adapter not in self.adapters:
            known = ", ".join(sorted(self.adapters)) or "none"
            raise ValueError(f"unknown adapter_id {adapter!r}; loaded adapters: {known}")

    def check_params(self, params: SamplingParams) -> None:
        """Raise ValueError for sampling options this runtime cannot honour (all are fine here)."""

    @property
    def waiting(self) -> int:
        """How many generations are queued behind the one that holds the model."""
        return self._waiting

    def stream(
        self,
        input_ids: Sequence[int],
        params: SamplingParams,
        *,
        adapter: str | None = None,
        on_wait: Callable[[], None] | None = None,
        timeout: float | None = None,
    ) -> GenerationStream:
        """Start generating now (or as soon as the model is free); iterate for tokens as they come."""
        self.check_adapter(adapter)
        self.check_params(params)
        return GenerationStream(self, input_ids, params, adapter, on_wait=on_wait, timeout=timeout)

    @contextmanager
    def _turn(self, out: queue.Queue[Any], cancel: threading.Event) -> Iterator[bool]:
        """Hold the model for one generation; yields False when cancelled while queueing for it.

        A caller that has to queue is told so first; polling the lock lets a cancelled (timed out,
        dropped) request leave the queue at once instead of after the running generation.
        """
        held = self.lock.acquire(blocking=False)
        if not held:
            out.put(_WAITING)
            with self._waiting_lock:
                self._waiting += 1
            try:
                while not held and not cancel.is_set():
                    held = self.lock.acquire(timeout=0.05)
            finally:
                with self._waiting_lock:
                    self._waiting -= 1
        try:
            yield held
        finally:
            if held:
                self.lock.release()

    def prefill(self, input_ids: Sequence[int], *, adapter: str | None = None) -> list[Token]:
        """The prompt tokens with the log-probability the model gives each (the first has none)."""
        raise NotImplementedError

    def _generate_into(
        self,
        input_ids: list[int],
        params: SamplingParams,
        adapter: str | None,
        seed: int | None,
        out: queue.Queue[Any],
        cancel: threading.Event,
    ) -> None:
        """Generate in the worker thread: wait for the model with :meth:`_turn`, let the runtime
        queue ``(id, logprob, top)`` per token (:meth:`_generate`), then ``_END`` (an exception
        before it where generation fails)."""
        try:
            with self._turn(out, cancel) as held:
                if held and not cancel.is_set():
                    self._generate(input_ids, params, adapter, seed, out, cancel)
        except BaseException as exc:  # handed to the consumer, which raises it in its thread
            out.put(exc)
        finally:
            out.put(_END)

    def _generate(
        self,
        input_ids: list[int],
        params: SamplingParams,
        adapter: str | None,
        seed: int | None,
        out: queue.Queue[Any],
        cancel: threading.Event,
    ) -> None:
        """The runtime's generation, holding the model: queue ``(id, logprob, top)`` per token."""
        raise NotImplementedError

    def stop_hit(self, generated: Sequence[int], params: SamplingParams) -> bool:
        """Whether the tokens generated so far end in one of ``params.stop`` (for runtimes that do
        not check stop strings themselves); a stop string spans at most as many tokens as it has
        characters, so only that tail is decoded."""
        if not params.stop:
            return False
        window = max(len(s) for s in params.stop) + 1
        tail = self.tokenizer.decode(list(generated[-window:]), skip_special_tokens=False)
        return any(stop in tail for stop in params.stop)


class TransformersEngine(Engine):
    """transformers in float32 or bfloat16, or bitsandbytes NF4/int8, optionally with peft LoRA
    adapters: the engine QLoRA trains for, and the fallback of every other runtime."""

    def __init__(
        self,
        name: str,
        model: Any,
        tokenizer: Any,
        *,
        quantization: str = "none",
        adapters: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(
            name,
            tokenizer,
            model.generation_config,
            self.context_length(model.config, tokenizer),
            quantization=quantization,
            adapters=adapters,
        )
        self.model = model
        self.device = next(model.parameters()).device

    @classmethod
    def load(
        cls,
        name: str,
        path: str,
        *,
        quantization: str = "none",
        adapters: Mapping[str, str] | None = None,
        device: str = "cpu",
        dtype: str = "float32",
    ) -> TransformersEngine:
        tokenizer = cls.load_tokenizer(path)
        weights = inference_dtype(dtype, device)
        config = quantization_config(quantization, weights)
        kwargs: dict[str, Any] = {"dtype": weights}
        if config is not None:
            kwargs.update(quantization_config=config, device_map={"": device})
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
        if config is None:
            model.to(device)
        if adapters:
            from peft import PeftModel

            (first, first_path), *rest = adapters.items()
            with peft_quietly():
                model = PeftModel.from_pretrained(model, first_path, adapter_name=first)
                for adapter_name, adapter_path in rest:
                    model.load_adapter(adapter_path, adapter_name=adapter_name)
        model.eval()
        return cls(name, model, tokenizer, quantization=quantization, adapters=adapters)

    def prefill(self, input_ids: Sequence[int], *, adapter: str | None = None) -> list[Token]:
        """The prompt tokens with the log-probability the model gives each (the first has none)."""
        self.check_adapter(adapter)
        ids = list(input_ids)
        with self.lock, torch.inference_mode(), self._adapter(adapter):
            logits = self.model(input_ids=torch.tensor([ids], device=self.device)).logits[0]
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        return [
            Token(
                id=token_id,
                text=self.token_text(token_id),
                logprob=None if i == 0 else _finite(float(logprobs[i - 1, token_id])),
                special=token_id in self.special_ids,
            )
            for i, token_id in enumerate(ids)
        ]

    @contextmanager
    def _adapter(self, adapter: str | None) -> Iterator[None]:
        if not self.adapters:
            yield
        elif adapter is None:
            with self.model.disable_adapter():
                yield
        else:
            self.model.set_adapter(adapter)
            yield

    def _generation_config(self, params: SamplingParams) -> GenerationConfig:
        config: dict[str, Any] = {
            "max_new_tokens": params.max_new_tokens,
            "do_sample": params.do_sample,
            "eos_token_id": sorted(self.eos_ids) or None,
            "pad_token_id": self.pad_id,
            "bos_token_id": self.bos_id,
        }
        if params.do_sample:
            config.update(
                temperature=params.temperature or 1.0,
                top_k=params.top_k or 0,
                top_p=params.top_p or 1.0,
                typical_p=params.typical_p or 1.0,
            )
        if params.repetition_penalty is not None:
            config["repetition_penalty"] = params.repetition_penalty
        if params.stop:
            config["stop_strings"] = list(params.stop)
        return GenerationConfig(**config)

    def _generate(
        self,
        input_ids: list[int],
        params: SamplingParams,
        adapter: str | None,
        seed: int | None,
        out: queue.Queue[Any],
        cancel: threading.Event,
    ) -> None:
        capture = _Capture()
        processors = LogitsProcessorList([capture])
        if params.frequency_penalty:
            processors.insert(0, _FrequencyPenalty(params.frequency_penalty, len(input_ids)))
        with torch.inference_mode(), self._adapter(adapter):
            if seed is not None:
                torch.manual_seed(seed)
            tensor = torch.tensor([input_ids], device=self.device)
            self.model.generate(
                input_ids=tensor,
                attention_mask=torch.ones_like(tensor),
                generation_config=self._generation_config(params),
                logits_processor=processors,
                stopping_criteria=StoppingCriteriaList([_Cancelled(cancel)]),
                streamer=_QueueStreamer(capture, out, params.top_n_tokens),
                tokenizer=self.tokenizer if params.stop else None,
            )


_ENGINES: dict[tuple[Any, ...], Engine] = {}
_ENGINES_LOCK = threading.Lock()
log = logging.getLogger(__name__)


def _copy_engine(
    model: str,
    path: str,
    cache_dir: Path,
    *,
    runtime: str,
    quantization: str,
    adapters: Mapping[str, str] | None,
    device: str,
    threads: int | None,
    lookup_tokens: int,
) -> Engine | str:
    """The engine that runs ``model``'s copy for ``runtime`` (ONNX or OpenVINO), or why it cannot
    run here (then transformers answers)."""
    if quantization != "none" or adapters or device != "cpu":
        return "es läuft nur auf der CPU, ohne bitsandbytes-Quantisierung und ohne LoRA-Adapter"
    from rag.models.engine_copies import copy_state, recipe_for
    from rag.models.registry import MODELS

    spec = MODELS.get(model)
    if spec is None or not spec.generator_copies:
        return f"für {model!r} baut die Provisionierung keine Kopie für {runtime}"
    recipe = recipe_for(runtime)
    state = copy_state(spec, cache_dir, recipe)
    if state.status != "ready":
        remedy = f"`heise-rag models provision --engine {runtime} --name {model}` baut ihn neu"
        return f"{state.path} ist {state.status}; {remedy}"
    try:
        if runtime == "openvino-int8":
            from rag.generation.openvino_engine import OpenVinoEngine

            return OpenVinoEngine(model, path, str(state.path), threads=threads, lookup_tokens=lookup_tokens)
        from rag.generation.onnx_engine import OnnxEngine
        from rag.models.onnx_build import onnx_precision

        return OnnxEngine(
            model, path, str(state.path), precision=onnx_precision(runtime) or "int4", threads=threads
        )
    except (ImportError, OSError) as exc:
        return f"{recipe.package} lässt sich auf dieser Plattform nicht laden ({exc})"
    except Exception as exc:  # a corrupt or incompatible folder must not stop the answers
        return f"{state.path} lässt sich nicht laden ({type(exc).__name__}: {exc})"


def load_engine(
    model: str,
    *,
    cache_dir: Path,
    quantization: str = "none",
    adapters: Mapping[str, str] | None = None,
    device: str = "cpu",
    dtype: str = "float32",
    runtime: str = "transformers",
    threads: int | None = None,
    lookup_tokens: int = 0,
) -> Engine:
    """The engine for a model setting (provisioned name, folder or hub id), loaded once per process.

    ``runtime`` ``onnx-int8``/``onnx-int4``/``openvino-int8`` asks for an optimized engine; where it cannot
    run (no wheel, the folder missing, stale or broken, adapters or bitsandbytes asked for) a
    warning says why and the transformers engine answers instead: never a failure.
    ``lookup_tokens`` turns on the OpenVINO engine's prompt-lookup decoding (the others ignore it).
    """
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"unknown quantization {quantization!r}; expected one of {', '.join(QUANTIZATIONS)}")
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown generator engine {runtime!r}; expected one of {', '.join(RUNTIMES)}")
    path = resolve_model(model, cache_dir)
    key = (path, quantization, tuple((adapters or {}).items()), device, str(inference_dtype(dtype, device)))
    with _ENGINES_LOCK:
        engine = _ENGINES.get((*key, runtime, threads, lookup_tokens))
        if engine is not None:
            return engine
        if runtime != "transformers":
            copy = _copy_engine(
                model, path, cache_dir, runtime=runtime, quantization=quantization, adapters=adapters,
                device=device, threads=threads, lookup_tokens=lookup_tokens,
            )  # fmt: skip
            if isinstance(copy, Engine):
                _ENGINES[(*key, runtime, threads, lookup_tokens)] = copy
                return copy
            log.warning("Generator-Engine %s nicht verfügbar, weiter mit transformers: %s", runtime, copy)
        engine = _ENGINES.get((*key, "transformers", None))
        if engine is None:
            engine = TransformersEngine.load(
                model, path, quantization=quantization, adapters=adapters, device=device, dtype=dtype
            )
            _ENGINES[(*key, "transformers", None)] = engine
        _ENGINES[(*key, runtime, threads, lookup_tokens)] = engine
    return engine


def unload_engines() -> None:
    """Drop every cached engine (benchmarks switch between large models)."""
    with _ENGINES_LOCK:
        _ENGINES.clear()
    gc.collect()
