"""Cross-encoder reranking of retrieved articles, as a LangChain document compressor.

Why a cross-encoder last: it reads question and passage together, which fixes the small
bi-encoder's ranking mistakes; it is too slow for the whole index, so it only sees the top
candidates of the hybrid search.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

from langchain_core.callbacks import Callbacks
from langchain_core.documents import BaseDocumentCompressor, Document
from pydantic import ConfigDict
from sentence_transformers import CrossEncoder

from rag.models.resolve import resolve_model


class CrossEncoderReranker(BaseDocumentCompressor):
    """Scores (question, title + passage) pairs and keeps the ``top_n`` best documents."""

    model_config = ConfigDict(arbitrary_types_allowed=True, ignored_types=(cached_property,))

    model_name: str
    cache_dir: Path
    device: str = "cpu"
    top_n: int = 5
    max_length: int = 256
    batch_size: int = 32

    @cached_property
    def model(self) -> CrossEncoder:
        return CrossEncoder(
            resolve_model(self.model_name, self.cache_dir), device=self.device, max_length=self.max_length
        )

    def compress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None
    ) -> Sequence[Document]:
        if not documents:
            return []
        pairs = [(query, f"{d.metadata.get('title', '')}\n{d.page_content}") for d in documents]
        scores = self.model.predict(pairs, batch_size=self.batch_size, show_progress_bar=False)
        ranked = sorted(zip(documents, scores, strict=True), key=lambda pair: -float(pair[1]))
        return [
            Document(page_content=d.page_content, metadata=d.metadata | {"rerank_score": float(s)})
            for d, s in ranked[: self.top_n]
        ]
