"""The onnxruntime-genai engine: the int8 or int4 ONNX copy of a provisioned model (rag/models/onnx_build.py).

Why a second engine: on a CPU it decodes about three times faster than transformers and needs
less memory (see the generator benchmark in docs/benchmarks.md); it reads the prompt slower than transformers
in bf16 on CPUs with bf16 matrix units. It plugs into the same :class:`Engine`
interface, so the `local` backend and the TGI-compatible server use it unchanged. Tokenizing,
the chat template and detokenizing stay with the base folder's transformers tokenizer, so both
engines see and report the same token ids.

What it does not do: LoRA adapters, bitsandbytes quantization (`load_engine` keeps those on
transformers) and TGI's ``typical_p`` (refused with a message). The log-probabilities it reports
are those of the raw model output, before repetition penalty and temperature.
"""

from __future__ import annotations

import json
import math
import os
import queue
import threading
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime_genai as og
from transformers import AutoConfig, GenerationConfig

from rag.generation.engine import Engine, SamplingParams, Token, _finite
from rag.models.onnx_build import OnnxPrecision


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max()
    return shifted - math.log(float(np.exp(shifted).sum()))


class OnnxEngine(Engine):
    """An int8/int4 ONNX model run by onnxruntime-genai on the CPU, with the base folder's tokenizer."""

    def __init__(
        self,
        name: str,
        base_path: str,
        onnx_path: str,
        *,
        precision: OnnxPrecision = "int4",
        threads: int | None = None,
    ) -> None:
        self.runtime = f"onnx-{precision}"
        tokenizer = self.load_tokenizer(base_path)
        super().__init__(
            name,
            tokenizer,
            GenerationConfig.from_pretrained(base_path),
            self.context_length(AutoConfig.from_pretrained(base_path), tokenizer),
        )
        config = og.Config(onnx_path)
        # The builder leaves the thread count to onnxruntime, which used one thread here: 5 s to the
        # first token and 30 tokens/s instead of 2.5 s and 45 with two threads on two cores.
        self.threads = threads or os.cpu_count() or 1
        options = {"intra_op_num_threads": self.threads, "inter_op_num_threads": 1}
        config.overlay(json.dumps({"model": {"decoder": {"session_options": options}}}))
        self.model = og.Model(config)
        genai = json.loads((Path(onnx_path) / "genai_config.json").read_text(encoding="utf-8"))
        self.vocab_size = int(genai["model"]["vocab_size"])

    def check_params(self, params: SamplingParams) -> None:
        if params.typical_p is not None and params.typical_p < 1.0:
            raise ValueError(
                f"typical_p is not supported by the {self.runtime} engine; "
                "use the transformers engine (HEISE_RAG_GENERATOR_ENGINE=transformers)"
            )

    def _search_options(self, params: SamplingParams, length: int, seed: int | None) -> dict[str, Any]:
        options: dict[str, Any] = {
            "max_length": length + params.max_new_tokens,
            "do_sample": params.do_sample,
            "repetition_penalty": params.repetition_penalty or 1.0,
        }
        if params.do_sample:
            # onnxruntime-genai samples only within top_k or top_p; without either, the whole
            # vocabulary is the top_k that matches plain sampling at a temperature.
            options.update(
                temperature=params.temperature or 1.0,
                top_k=params.top_k or (0 if params.top_p else self.vocab_size),
                top_p=params.top_p or 1.0,
            )
            if seed is not None:
                options["random_seed"] = seed % (2**31)
        return options

    def _generator(self, params: SamplingParams, length: int, seed: int | None) -> og.Generator:
        search = og.GeneratorParams(self.model)
        search.set_search_options(**self._search_options(params, length, seed))
        return og.Generator(self.model, search)

    def prefill(self, input_ids: Sequence[int], *, adapter: str | None = None) -> list[Token]:
        """Prompt log-probabilities, one decoding step per token: onnxruntime-genai returns only the
        last position's logits (slow for long prompts; TGI's ``decoder_input_details`` is rare)."""
        self.check_adapter(adapter)
        ids = list(input_ids)
        tokens = [
            Token(id=ids[0], text=self.token_text(ids[0]), logprob=None, special=ids[0] in self.special_ids)
        ]
        with self.lock:
            generator = self._generator(SamplingParams(max_new_tokens=1), len(ids), None)
            generator.append_tokens(ids[:1])
            for token_id in ids[1:]:
                logprobs = _log_softmax(generator.get_logits().reshape(-1))
                tokens.append(
                    Token(
                        id=token_id,
                        text=self.token_text(token_id),
                        logprob=_finite(float(logprobs[token_id])),
                        special=token_id in self.special_ids,
                    )
                )
                generator.append_tokens([token_id])
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
        generator = self._generator(params, len(input_ids), seed)
        generator.append_tokens(input_ids)
        counts: Counter[int] = Counter()
        generated: list[int] = []
        for _ in range(params.max_new_tokens):
            if cancel.is_set() or generator.is_done():
                break
            logits = generator.get_logits()
            if params.frequency_penalty and counts:
                logits = logits.copy()
                flat = logits.reshape(-1)
                ids = np.fromiter(counts.keys(), dtype=np.int64)
                flat[ids] -= params.frequency_penalty * np.fromiter(counts.values(), dtype=np.float32)
                generator.set_logits(logits)
            generator.generate_next_token()
            token_id = int(generator.get_next_tokens()[0])
            counts[token_id] += 1
            generated.append(token_id)
            logprobs = _log_softmax(logits.reshape(-1))
            top: list[tuple[int, float | None]] = []
            if params.top_n_tokens:
                best = np.argpartition(-logprobs, params.top_n_tokens)[: params.top_n_tokens]
                best = best[np.argsort(-logprobs[best])]
                top = [(int(i), _finite(float(logprobs[i]))) for i in best]
            out.put((token_id, _finite(float(logprobs[token_id])), top))
            if token_id in self.eos_ids or self.stop_hit(generated, params):
                break
