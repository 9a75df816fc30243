"""The dense bi-encoder, behind one small class used by ingest and retrieval.

Why a wrapper: the model setting may be a provisioned name, a folder or a hub id, and E5 needs its
`query: `/`passage: ` prompts; sentence-transformers' `encode_query`/`encode_document` pick the
prompts a model folder declares (none for models without them), batch and sort by length.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np
import torch
from sentence_transformers import SentenceTransformer

from rag.core.settings import Settings
from rag.models.resolve import resolve_model

QUERY_CACHE_SIZE = 1024


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
    ) -> None:
        self.model_name = model
        self._cache_dir = cache_dir
        self._device = device
        self.batch_size = batch_size
        self.query_threads = query_threads
        self._cached_query = lru_cache(maxsize=QUERY_CACHE_SIZE)(self._encode_query)

    @classmethod
    def from_settings(cls, settings: Settings) -> Embedder:
        return cls(
            settings.embedding_model,
            cache_dir=settings.model_cache_dir,
            device=settings.device,
            batch_size=settings.embed_batch_size,
            query_threads=settings.query_threads,
        )

    @cached_property
    def model(self) -> SentenceTransformer:
        return SentenceTransformer(resolve_model(self.model_name, self._cache_dir), device=self._device)

    @property
    def dim(self) -> int:
        dim = self.model.get_embedding_dimension()
        assert dim is not None
        return dim

    @property
    def max_tokens(self) -> int:
        """Token budget of one input, including special tokens and the document prompt."""
        return int(self.model.max_seq_length)

    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for a document, prompt and special tokens included."""
        prompt = self.model.prompts.get("passage", "")
        return len(self.model.tokenizer(prompt + text, add_special_tokens=True, verbose=False)["input_ids"])

    def encode_documents(self, texts: list[str]) -> np.ndarray:
        return self.model.encode_document(
            texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
        )

    def encode_query(self, text: str) -> np.ndarray:
        """Cached (read-only result): an evaluation embeds each question once per retrieval mode,
        and a reader who asks again or switches filters should not wait for the encoder twice."""
        return self._cached_query(text)

    def _encode_query(self, text: str) -> np.ndarray:
        with torch_threads(self.query_threads if self._device == "cpu" else None):
            vector = self.model.encode_query(text, normalize_embeddings=True, convert_to_numpy=True)
        vector.flags.writeable = False
        return vector


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
