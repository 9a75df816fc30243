"""The indexing pipeline: articles -> chunks -> dense + sparse vectors -> Qdrant points.

Why it is incremental without a separate record store: every point carries its article's content
hash and chunk count, so the index itself records what was ingested. An article is skipped when
all its chunks are present with the current hash; an ingest killed halfway leaves at worst an
incomplete article, which the next run redoes, and deterministic point ids rule out duplicates.
Every ingest that changed the collection ends by recounting BM25's corpus statistics, which
re-encodes the sparse vectors when the average document length drifted (ingest/sparse_stats.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from qdrant_client import models

from ingest.chunking import Chunk, Chunker
from ingest.reembed import collection_prompt
from ingest.sparse_stats import needs_stats, refresh_sparse
from rag.core.domain import Article, Skipped
from rag.core.payload import ChunkPayload, article_key, point_id
from rag.core.plausibility import date_problem
from rag.models.embeddings import Embedder
from rag.retrieval.sparse import GermanBM25, average_length, tokenize
from rag.store.layout import DENSE, SPARSE
from rag.store.vector_store import StoredArticle, VectorStore

Outcome = Literal["new", "updated", "unchanged"]
DatePolicy = Literal["warn", "skip"]


@dataclass(frozen=True)
class DateWarning:
    """An article ingested although its publication date cannot be right (``implausible_dates=warn``)."""

    location: str
    reason: str


@dataclass
class IngestReport:
    """What one ingest did; ``skipped`` keeps every rejected item with its location and reason.

    ``date_warnings`` names the articles that were ingested with an implausible publication date,
    so a wrong date is reported even when the policy keeps the article.
    """

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    chunks: int = 0
    removed_chunks: int = 0
    reencoded_chunks: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    seconds: float = 0.0
    date_warnings: list[DateWarning] = field(default_factory=list)

    def summary(self) -> str:
        dates = f", {len(self.date_warnings)} mit unplausiblem Datum" if self.date_warnings else ""
        reweighted = f", BM25 von {self.reencoded_chunks} neu gewichtet" if self.reencoded_chunks else ""
        return (
            f"{self.new} neu, {self.updated} aktualisiert, {self.unchanged} unverändert, "
            f"{len(self.skipped)} übersprungen{dates}; {self.chunks} Chunks geschrieben, "
            f"{self.removed_chunks} entfernt{reweighted}, {self.seconds:.1f} s"
        )


def chunk_payload(chunk: Chunk, n_chunks: int, terms: int) -> ChunkPayload:
    """Article metadata, the chunk text and its BM25 token count, as stored with every point."""
    a = chunk.article
    return {
        "article_id": a.id,
        "source": a.source,
        "title": a.title,
        "url": a.url,
        "teaser": a.teaser,
        "published_at": a.published_at.isoformat() if a.published_at else None,
        "authors": list(a.authors),
        "section": list(a.section),
        "comments": a.comments,
        "text": chunk.text,
        "chunk_index": chunk.index,
        "n_chunks": n_chunks,
        "content_hash": a.content_hash,
        "bm25_terms": terms,
    }


class Indexer:
    """Ingest article streams into one collection, re-embedding only what changed."""

    def __init__(
        self,
        store: VectorStore,
        embedder: Embedder,
        chunker: Chunker,
        *,
        flush_chunks: int = 512,
        implausible_dates: DatePolicy = "warn",
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.chunker = chunker
        self.flush_chunks = flush_chunks
        self.implausible_dates = implausible_dates
        self._bm25: GermanBM25 | None = None
        self._document_prompt = ""

    def _ensure_collection(self, first_batch: list[list[str]]) -> GermanBM25:
        """Create the collection on first use; its first BM25 ``avgdl`` is the first batch's mean,
        until the statistics at the end of the ingest correct it."""
        if self._bm25 is not None:
            return self._bm25
        if not self.store.exists():
            avgdl = average_length(first_batch)
            self.store.create(
                self.embedder.dim,
                {
                    "bm25_avgdl": avgdl,
                    "embedding_model": self.embedder.model_name,
                    "dim": self.embedder.dim,
                    "document_prompt": self.embedder.document_prompt,
                },
            )
        meta = self.store.metadata()
        if meta.get("dim") != self.embedder.dim:
            raise ValueError(
                f"Sammlung {self.store.collection!r} enthält {meta.get('dim')}-dimensionale Vektoren von "
                f"{meta.get('embedding_model')!r}; der eingestellte Encoder liefert {self.embedder.dim}. "
                "Bitte eine andere Sammlung wählen oder das Modell, mit dem die Sammlung gebaut wurde."
            )
        self._document_prompt = collection_prompt(meta)  # never two prompts in one collection
        self._bm25 = GermanBM25(avgdl=float(meta["bm25_avgdl"]))  # type: ignore[arg-type]
        return self._bm25

    def _flush(self, pending: list[tuple[Article, list[Chunk]]], stored: dict[str, StoredArticle]) -> int:
        chunks = [c for _, cs in pending for c in cs]
        texts = [c.embed_text for c in chunks]
        terms = [tokenize(t) for t in texts]
        bm25 = self._ensure_collection(terms)
        dense = self.embedder.encode_documents(texts, self._document_prompt)
        n_of = {article_key(a.source, a.id): len(cs) for a, cs in pending}
        points = [
            models.PointStruct(
                id=point_id(c.article.source, c.article.id, c.index),
                vector={DENSE: vec.tolist(), SPARSE: bm25.encode_terms(doc_terms)},
                payload=chunk_payload(c, n_of[article_key(c.article.source, c.article.id)], len(doc_terms)),
            )
            for c, vec, doc_terms in zip(chunks, dense, terms, strict=True)
        ]
        self.store.upsert(points)
        leftovers = [
            point_id(a.source, a.id, i)
            for a, cs in pending
            if (old := stored.get(article_key(a.source, a.id)))
            for i in old.indices
            if i >= len(cs)
        ]
        self.store.delete(leftovers)
        return len(leftovers)

    def ingest(
        self,
        items: Iterable[Article | Skipped],
        on_progress: Callable[[int, int], None] | None = None,
    ) -> IngestReport:
        """Ingest a stream; ``on_progress(articles_seen, chunks_written)`` is called per flush."""
        started = time.perf_counter()
        report = IngestReport()
        stored = self.store.stored_articles() if self.store.exists() else {}
        seen: set[str] = set()
        pending: list[tuple[Article, list[Chunk]]] = []
        pending_chunks = 0

        def flush() -> None:
            nonlocal pending, pending_chunks
            if pending:
                report.removed_chunks += self._flush(pending, stored)
                report.chunks += pending_chunks
                pending, pending_chunks = [], 0
            if on_progress:
                on_progress(report.new + report.updated + report.unchanged, report.chunks)

        if on_progress:
            on_progress(0, 0)
        for item in items:
            if isinstance(item, Skipped):
                report.skipped.append(item)
                continue
            key = article_key(item.source, item.id)
            if key in seen:
                report.skipped.append(Skipped(location=key, reason="Artikel-ID in dieser Aufnahme doppelt"))
                continue
            seen.add(key)
            if problem := date_problem(item.published_at):
                if self.implausible_dates == "skip":
                    report.skipped.append(Skipped(location=key, reason=problem))
                    continue
                report.date_warnings.append(DateWarning(location=key, reason=problem))
            old = stored.get(key)
            if old is not None and old.complete and old.content_hash == item.content_hash:
                report.unchanged += 1
                continue
            chunks = self.chunker.chunk(item)
            pending.append((item, chunks))
            pending_chunks += len(chunks)
            if old is None:
                report.new += 1
            else:
                report.updated += 1
            if pending_chunks >= self.flush_chunks:
                flush()
        flush()
        if self.store.exists() and (report.chunks or report.removed_chunks or needs_stats(self.store)):
            report.reencoded_chunks = refresh_sparse(self.store).reencoded
            self._bm25 = None  # the next flush reads the avgdl the vectors now carry
        report.seconds = time.perf_counter() - started
        return report
