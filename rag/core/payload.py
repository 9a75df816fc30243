"""The stored point: its deterministic id and the payload every chunk carries.

Why one module: ingest writes this payload, the store scrolls it to decide what an ingest must
redo, retrieval turns it into document metadata, and evaluation and training read it back; one
schema keeps the writers and readers of the same fields in step.
"""

from __future__ import annotations

import uuid
from typing import TypedDict

POINT_NAMESPACE = uuid.UUID("5b0c3f52-7d3e-4f55-9a59-8d7e1e6f0a11")


class ChunkPayload(TypedDict):
    """The payload of one stored chunk: article metadata, the chunk text and its place."""

    article_id: str
    source: str
    title: str
    url: str | None
    teaser: str
    published_at: str | None  # ISO 8601 with offset
    authors: list[str]
    section: list[str]
    comments: int | None
    text: str
    chunk_index: int
    n_chunks: int
    content_hash: str
    bm25_terms: int  # tokens the sparse vector was encoded from (ingest/sparse_stats.py)


BM25_TERMS = "bm25_terms"
"""The payload key of a chunk's BM25 token count: the corpus statistics are recounted from it."""

# What an ingest reads back to decide whether an article is complete and unchanged.
COMPLETENESS_FIELDS = ("source", "article_id", "content_hash", "chunk_index", "n_chunks")


def point_id(source: str, article_id: str, chunk_index: int) -> str:
    """Deterministic point id, so re-ingesting an article overwrites instead of duplicating."""
    return str(uuid.uuid5(POINT_NAMESPACE, f"{source}\x1f{article_id}\x1f{chunk_index}"))


def article_key(source: str, article_id: str) -> str:
    return f"{source}:{article_id}"
