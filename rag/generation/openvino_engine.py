"""The OpenVINO GenAI engine: the int8 OpenVINO copy of a provisioned model (rag/models/openvino_build.py).

Why: on a CPU with bf16/int8 matrix units it reads the prompt faster than transformers in bfloat16
and decodes about twice as fast, with the same greedy answers, in a third of the memory (see the
generator benchmark in docs/benchmarks.md). It plugs into the same :class:`Engine` interface, so the `local`
backend and the TGI-compatible server use it unchanged.

It drives OpenVINO GenAI's continuous-batching pipeline one step at a time: each step hands back
the new token with its log-probability, which streaming and TGI's ``details`` need, and a
cancelled request is stopped between two steps. The pipeline's paged attention reads a long prompt
faster here than the plain stateful model (0.71 s instead of 0.95 s for 1,000 tokens), and its
prefix cache keeps the system prompt and instructions that every question shares. Tokenizing, the
chat template and detokenizing stay with the base folder's transformers tokenizer, so all engines
see and report the same token ids; stop strings are checked on our own decoded text, as the other
engines do.

Prompt-lookup decoding (``lookup_tokens``, the ``generator_lookup_tokens`` setting): answers quote
their sources, so after each token the pipeline looks up the last three tokens in the prompt, guesses
that the next few tokens continue as they do there, and checks the guess in one pass of the model.
Greedy answers stay the same (29 of 30 dev answers identical, the other differs by rounding) and
take 0.6-0.7x the time (docs/benchmarks.md, Generator engines). What it cannot serve exactly, a sampled
request (the guesses would change its distribution), goes to a plain pipeline that is built on first
need (it costs the compiled model's memory once more, so the product's greedy path never builds it).
The prompt scoring of :meth:`prefill` gets a pipeline of its own without the prefix cache, also
built on first need: a prompt whose beginning is cached is not read again, and ``echo`` then
returns no log-probabilities for it (a repeated prompt came back with none at all).

What it does not do: LoRA adapters and bitsandbytes quantization (``load_engine`` keeps those on
transformers), TGI's ``typical_p`` and ``top_n_tokens`` (refused with a message).
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Sequence
from contextlib import closing
from typing import Any

import numpy as np
import openvino as ov
import openvino_genai as og
from transformers import AutoConfig, GenerationConfig

from rag.generation.engine import Engine, SamplingParams, Token, _finite

# No top-k limit in GenAI's terms (its default: the largest size_t).
_NO_TOP_K = 2**64 - 1
# Prompt lookup matches the last this many generated tokens against the prompt (3 beat 2 on the dev
# questions: 0.94 s vs 0.98 s per answer).
LOOKUP_NGRAM = 3


class OpenVinoEngine(Engine):
    """An int8 OpenVINO model run by OpenVINO GenAI on the CPU, with the base folder's tokenizer."""

    runtime = "openvino-int8"

    def __init__(
        self,
        name: str,
        base_path: str,
        openvino_path: str,
        *,
        threads: int | None = None,
        lookup_tokens: int = 0,
    ) -> None:
        tokenizer = self.load_tokenizer(base_path)
        super().__init__(
            name,
            tokenizer,
            GenerationConfig.from_pretrained(base_path),
            self.context_length(AutoConfig.from_pretrained(base_path), tokenizer),
        )
        self.threads = threads or os.cpu_count() or 1
        self.lookup_tokens = lookup_tokens
        self._path = openvino_path
        self.pipeline = self._build(prompt_lookup=lookup_tokens > 0)
        # the pipeline without prompt lookup when the main one has it; built on first need
        self._plain: og.ContinuousBatchingPipeline | None = None if lookup_tokens else self.pipeline
        # the pipeline that scores prompts (``prefill``), without the prefix cache; built on first need
        self._scoring: og.ContinuousBatchingPipeline | None = None
        self._request_ids = iter(range(2**62))

    def _build(self, *, prompt_lookup: bool, prefix_caching: bool = True) -> og.ContinuousBatchingPipeline:
        scheduler = og.SchedulerConfig()
        # The shared system prompt and instructions are read once, not for every question.
        scheduler.enable_prefix_caching = prefix_caching
        # Read a whole prompt in one step: the default (256 tokens a step) made the first token of
        # a 1,000-token prompt slower.
        scheduler.max_num_batched_tokens = self.max_position
        properties: dict[str, Any] = {"INFERENCE_NUM_THREADS": self.threads}
        if prompt_lookup:
            properties["prompt_lookup"] = True
        return og.ContinuousBatchingPipeline(self._path, scheduler, "CPU", properties)

    def _pipeline_for(self, config: og.GenerationConfig) -> og.ContinuousBatchingPipeline:
        """The lookup pipeline for greedy generation, the plain one for sampling, the scoring one
        (no prefix cache) for ``echo``."""
        if config.echo:
            if self._scoring is None:
                self._scoring = self._build(prompt_lookup=False, prefix_caching=False)
            return self._scoring
        if self.lookup_tokens and not config.do_sample:
            config.num_assistant_tokens = self.lookup_tokens
            config.max_ngram_size = LOOKUP_NGRAM
            return self.pipeline
        if self._plain is None:
            self._plain = self._build(prompt_lookup=False)
        return self._plain

    def check_params(self, params: SamplingParams) -> None:
        for name, unsupported in (
            ("typical_p", params.typical_p is not None and params.typical_p < 1.0),
            ("top_n_tokens", bool(params.top_n_tokens)),
        ):
            if unsupported:
                raise ValueError(
                    f"{name} is not supported by the {self.runtime} engine; "
                    "use the transformers engine (HEISE_RAG_GENERATOR_ENGINE=transformers)"
                )

    def _config(self, params: SamplingParams, seed: int | None) -> og.GenerationConfig:
        config = og.GenerationConfig()
        config.max_new_tokens = params.max_new_tokens
        config.logprobs = 1
        config.repetition_penalty = params.repetition_penalty or 1.0
        config.frequency_penalty = params.frequency_penalty or 0.0
        config.stop_token_ids = set(self.eos_ids)
        config.do_sample = params.do_sample
        if params.do_sample:
            config.temperature = params.temperature or 1.0
            config.top_k = params.top_k or _NO_TOP_K
            config.top_p = params.top_p or 1.0
            if seed is not None:
                config.rng_seed = seed % (2**63)
        return config

    def _outputs(
        self, input_ids: Sequence[int], config: og.GenerationConfig, cancel: threading.Event | None = None
    ) -> Any:
        """Add the request, step its pipeline until it has output or ends; yield each output as it
        comes (the generator's owner stops it: ``handle.stop()`` via the yielded handle's close)."""
        pipeline = self._pipeline_for(config)
        tensor = ov.Tensor(np.asarray([list(input_ids)], dtype=np.int64))
        handle = pipeline.add_request(next(self._request_ids), tensor, config)
        running = og.GenerationStatus.RUNNING
        try:
            while handle.get_status() == running or handle.can_read():
                if cancel is not None and cancel.is_set():
                    return
                if not handle.can_read():
                    pipeline.step()
                    continue
                yield from handle.read().values()
        finally:
            handle.stop()

    def prefill(self, input_ids: Sequence[int], *, adapter: str | None = None) -> list[Token]:
        """Prompt log-probabilities from one step with ``echo``: the pipeline scores the prompt."""
        self.check_adapter(adapter)
        ids = list(input_ids)
        config = self._config(SamplingParams(max_new_tokens=1), None)
        config.echo = True
        with self.lock:
            logprobs: list[float] = []
            with closing(self._outputs(ids, config)) as outputs:
                for output in outputs:
                    logprobs.extend(output.generated_log_probs)
                    break
        tokens = []
        for position, token_id in enumerate(ids):
            logprob = _finite(float(logprobs[position])) if 0 < position < len(logprobs) else None
            tokens.append(
                Token(
                    id=token_id,
                    text=self.token_text(token_id),
                    logprob=logprob,
                    special=token_id in self.special_ids,
                )
            )
        return tokens

    def _generate(
        self,
        input_ids: list[int],
        params: SamplingParams,
        adapter: str | None,
        seed: int | None,
        out: queue.Queue[Any],
        cancel: threading.Event,
    ) -> None:
        generated: list[int] = []
        with closing(self._outputs(input_ids, self._config(params, seed), cancel)) as outputs:
            for output in outputs:
                # one output holds several tokens where prompt lookup's guess was right: a stop
                # string is checked after each, so nothing after it reaches the caller
                for token_id, logprob in zip(output.generated_ids, output.generated_log_probs, strict=True):
                    generated.append(int(token_id))
                    out.put((int(token_id), _finite(float(logprob)), []))
                    if self.stop_hit(generated, params):
                        return
