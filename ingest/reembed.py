"""Re-embedding a collection's dense vectors from its stored text, with the configured document prompt.

Why: whether documents get E5's `passage: ` prompt is a setting (`embedding_document_prompt`; until
2026-12-05 they silently got none, because sentence-transformers 6 gives every model an empty
`document` prompt that wins over `passage`), and a collection must not mix vectors made with and
without it. Collections record the prompt they were built with (`document_prompt` in the metadata;
none recorded means none used) and keep embedding new articles with it; this switches a collection
to the configured prompt. Sparse vectors and payloads are copied as stored.

Why it survives a crash: the target prompt is written as `document_prompt_pending` first, so an
ingest that runs before the re-embedding finished already embeds with the target, and running the
re-embedding again (idempotent) finishes it; `document_prompt` is written last.
"""

from __future__ import annotations

from collections.abc import Callable

from qdrant_client import models

from rag.models.embeddings import Embedder
from rag.retrieval.sparse import document_text
from rag.store.layout import DENSE
from rag.store.vector_store import VectorStore

LEGACY_DOCUMENT_PROMPT = ""
"""What a collection without a recorded `document_prompt` was embedded with."""
PENDING = "document_prompt_pending"


def collection_prompt(metadata: dict[str, object]) -> str:
    """The prompt new documents of a collection are embedded with: an unfinished re-embedding's
    target, else the recorded prompt, else the legacy one."""
    return str(metadata.get(PENDING) or metadata.get("document_prompt") or LEGACY_DOCUMENT_PROMPT)


def needs_reembedding(store: VectorStore, embedder: Embedder) -> bool:
    """Whether the collection's vectors were (or are being) made with another document prompt."""
    metadata = store.metadata()
    return metadata.get(PENDING) is not None or collection_prompt(metadata) != embedder.document_prompt


def reembed_dense(
    store: VectorStore, embedder: Embedder, batch: int = 256, on_progress: Callable[[int], None] | None = None
) -> int:
    """Re-embed every point's dense vector with the embedder's (configured) document prompt;
    returns the count."""
    prompt = embedder.document_prompt
    store.update_metadata({PENDING: prompt})
    done = 0
    for points in store.scroll_pages(batch):
        payloads = [dict(p.payload or {}) for p in points]
        texts = [document_text(str(pl.get("title") or ""), str(pl.get("text") or "")) for pl in payloads]
        dense = embedder.encode_documents(texts, prompt)
        rewritten = []
        for point, payload, vector in zip(points, payloads, dense, strict=True):
            vectors = dict(point.vector) if isinstance(point.vector, dict) else {}
            vectors[DENSE] = vector.tolist()
            rewritten.append(models.PointStruct(id=point.id, vector=vectors, payload=payload))
        store.upsert(rewritten)
        done += len(rewritten)
        if on_progress:
            on_progress(len(rewritten))
    store.update_metadata({"document_prompt": prompt, PENDING: None})
    return done
