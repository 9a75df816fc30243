"""The dense bi-encoder, behind one small class used by ingest and retrieval.

Why a wrapper: the model setting may be a provisioned name, a folder or a hub id, and E5 needs its
`query: `/`passage: ` prompts; sentence-transformers' `encode_query`/`encode_document` pick the
prompts a model folder declares (none for models without them), batch and sort by length.

The ``embedding_backend`` setting runs the same encoder on onnxruntime instead (the ONNX copy
provisioning builds, :mod:`rag.models.e5_onnx`); where that copy or onnxruntime is missing, or the
model is not a provisioned name, a warning says so and torch encodes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch
from sentence_transformers import SentenceTransformer

from rag.core.settings import Settings
from rag.models.dtypes import inference_dtype
from rag.models.registry import MODELS
from rag.models.resolve import resolve_model

if TYPE_CHECKING:
    from rag.models.e5_onnx import OnnxE5

QUERY_CACHE_SIZE = 1024
Backend = Literal["torch", "onnx", "onnx-int8"]
log = logging.getLogger(__name__)


class Embedder:
    """Lazy-loading dense encoder; normalized vectors, cosine similarity."""

    def __init__(
        self,
        model: str,
        *,
        cache_dir: Path,
        device: str = "cpu",
        batch_size: int = 32,
        query_threads: int | None = None,
        backend: Backend = "torch",
        document_prompt: Literal["none", "passage"] = "none",
        dtype: Literal["auto", "float32", "bfloat16"] = "auto",
    ) -> None:
        self.model_name = model
        self.backend = backend
        self.document_prompt_kind = document_prompt
        self._cache_dir = cache_dir
        self._device = device
        self.batch_size = batch_size
        self.query_threads = query_threads
        self.document_dtype = inference_dtype(dtype, device)
        self._cached_query = lru_cache(maxsize=QUERY_CACHE_SIZE)(self._encode_query)

    @classmethod
    def from_settings(cls, settings: Settings) -> Embedder:
        return cls(
            settings.embedding_model,
            cache_dir=settings.model_cache_dir,
            device=settings.device,
            batch_size=settings.embed_batch_size,
            query_threads=settings.query_threads,
            backend=settings.embedding_backend,
            document_prompt=settings.embedding_document_prompt,
            dtype=settings.embedding_dtype,
        )

    @cached_property
    def onnx(self) -> OnnxE5 | None:
        """The onnxruntime encoder when the backend asks for one and it can run here, else None
        (torch encodes; a warning says why)."""
        if self.backend == "torch":
            return None
        try:
            return self._load_onnx()
        except Exception as exc:
            log.warning(
                "Encoder-Backend %s nicht verfügbar, weiter mit torch (langsamer, gleiche Vektoren): %s",
                self.backend,
                exc,
            )
            return None

    def _load_onnx(self) -> OnnxE5:
        from rag.models.e5_onnx import FLOAT_FILE, INT8_FILE, OnnxE5, e5_onnx_state, runtime_version

        if runtime_version() is None:
            raise RuntimeError("onnxruntime ist nicht installiert (`pip install -e .` installiert es)")
        spec = MODELS.get(self.model_name)
        if spec is None or not spec.onnx_encoder:
            raise RuntimeError(
                f"für {self.model_name!r} gibt es keine ONNX-Kopie (nur für bereitgestellte Modellnamen)"
            )
        state = e5_onnx_state(spec, self._cache_dir)
        if state.status != "ready":
            raise RuntimeError(
                f"die ONNX-Kopie {state.path} ist {state.status}; `heise-rag models provision "
                f"--name {spec.name} --encoder-onnx` baut sie (~1 min)"
            )
        base = Path(resolve_model(self.model_name, self._cache_dir))
        model_file = state.path / (INT8_FILE if self.backend == "onnx-int8" else FLOAT_FILE)
        return OnnxE5(base, model_file, query_threads=self.query_threads)

    @property
    def active_backend(self) -> Backend:
        """The backend that really encodes (torch after a fallback)."""
        return self.backend if self.onnx is not None else "torch"

    @cached_property
    def model(self) -> SentenceTransformer:
        return SentenceTransformer(resolve_model(self.model_name, self._cache_dir), device=self._device)

    @property
    def dim(self) -> int:
        if self.onnx is not None:
            return self.onnx.dim
        dim = self.model.get_embedding_dimension()
        assert dim is not None
        return dim

    @property
    def max_tokens(self) -> int:
        """Token budget of one input, including special tokens and the document prompt."""
        if self.onnx is not None:
            return self.onnx.max_seq_length
        return int(self.model.max_seq_length)

    @property
    def document_prompt(self) -> str:
        """The text put in front of every document: nothing, or the folder's `passage` prompt (E5:
        `passage: `; empty for models without one), as the `embedding_document_prompt` setting says.

        Chosen explicitly because sentence-transformers 6 gives every model an empty `document`
        prompt that its ``encode_document`` picks before `passage`: E5 documents went in bare, which
        measured better on the heise questions and worse on XQuAD than with `passage: `.
        """
        if self.document_prompt_kind == "none":
            return ""
        prompts = self.onnx.prompts if self.onnx is not None else self.model.prompts
        return prompts.get("passage", "")

    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for a document, prompt and special tokens included."""
        tokenizer = self.onnx.tokenizer if self.onnx is not None else self.model.tokenizer
        encoded = tokenizer(self.document_prompt + text, add_special_tokens=True, verbose=False)
        return len(encoded["input_ids"])

    def encode_documents(self, texts: list[str], prompt: str | None = None) -> np.ndarray:
        """Document vectors with ``prompt`` in front: the one a collection records it was built with
        (a collection must not mix two), or by default the model's `document_prompt`."""
        prompt = self.document_prompt if prompt is None else prompt
        if self.onnx is not None:
            return self.onnx.encode(texts, prompt, self.batch_size)
        with document_precision(self.document_dtype, self._device):
            return self.model.encode(
                texts,
                prompt=prompt,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
            )

    def encode_query(self, text: str) -> np.ndarray:
        """Cached (read-only result): an evaluation embeds each question once per retrieval mode,
        and a reader who asks again or switches filters should not wait for the encoder twice."""
        return self._cached_query(text)

    def _encode_query(self, text: str) -> np.ndarray:
        if self.onnx is not None:
            vector = self.onnx.encode([text], self.onnx.query_prompt, 1, threads=self.query_threads)[0]
            vector.flags.writeable = False
            return vector
        with torch_threads(self.query_threads if self._device == "cpu" else None):
            vector = self.model.encode_query(text, normalize_embeddings=True, convert_to_numpy=True)
        vector.flags.writeable = False
        return vector


@contextmanager
def document_precision(dtype: torch.dtype, device: str) -> Iterator[None]:
    """Encode documents with bfloat16 matrix products (autocast) when ``dtype`` says so.

    Why autocast and not bfloat16 weights: autocast keeps layer norms, softmax, pooling and the
    normalisation in float32, so the vectors stay at a cosine of >= 0.9999 to float32 (bfloat16
    weights: ~0.998, the drift that cost int8 ONNX its retrieval quality), while the products run
    on the CPU's bf16 units: 2.5x the passages per second on long chunks, 1.9x on headlines
    (E5-small, AMX, measured by bench/encoder.py).
    """
    if dtype == torch.float32:
        yield
        return
    with torch.autocast(device_type=torch.device(device).type, dtype=dtype):
        yield


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run a block with ``threads`` intra-op threads, then restore the process setting.

    Why: one short query gains nothing from a second thread, but two spinning threads on cores that
    other processes also use make it ten times slower (1.1 s instead of 0.1 s for E5-small at load
    average 10 on two cores, measured here).
    """
    if threads is None or threads == torch.get_num_threads():
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
