"""BM25's corpus statistics follow the collection; drifted sparse vectors are re-encoded from the text."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from qdrant_client import models

from ingest.chunking import Chunker
from ingest.pipeline import Indexer
from ingest.sparse_stats import refresh_sparse, scan_stats
from rag.core.payload import BM25_TERMS
from rag.core.settings import Settings
from rag.models.embeddings import Embedder
from rag.retrieval.sparse import GermanBM25, document_text, tokenize
from rag.store.edge import EdgeClient
from rag.store.layout import DENSE, SPARSE
from rag.store.vector_store import VectorStore
from tests.ingest.test_pipeline import SENTENCE, article


@pytest.fixture(scope="module")
def embedder(settings: Settings, provisioned: Callable[[str], Path]) -> Embedder:
    provisioned("all-minilm-l6-v2")
    return Embedder("all-minilm-l6-v2", cache_dir=settings.model_cache_dir)


@pytest.fixture(params=["local", "edge"])
def store(request: pytest.FixtureRequest) -> Iterator[VectorStore]:
    """The same checks on both embedded engines: qdrant-client's local mode and Qdrant's edge engine."""
    from qdrant_client import QdrantClient

    client = QdrantClient(":memory:") if request.param == "local" else EdgeClient(":memory:")
    yield VectorStore(client, "test")
    client.close()


def make_indexer(store: VectorStore, embedder: Embedder) -> Indexer:
    return Indexer(store, embedder, Chunker(embedder.count_tokens, 64, 8), flush_chunks=16)


def headlines(n: int) -> list:
    return [article(i) for i in range(n)]


def long_articles(n: int) -> list:
    return [article(100 + i, body=SENTENCE * 8, title=f"Glasfaser {i}") for i in range(n)]


def assert_encoded_with_corpus_mean(store: VectorStore) -> None:
    """Metadata = recount of the stored texts, and every sparse vector = a fresh encoding with it."""
    meta = store.metadata()
    texts = [
        (p.vector, p.payload)
        for page in store.scroll_pages()
        for p in page
        if isinstance(p.vector, dict) and p.payload
    ]
    lengths = [len(tokenize(document_text(pl["title"], pl["text"]))) for _, pl in texts]
    assert meta["bm25_docs"] == len(texts)
    assert meta["bm25_total_terms"] == sum(lengths)
    avgdl = sum(lengths) / len(lengths)
    assert meta["bm25_avgdl"] == pytest.approx(avgdl, rel=0.05)
    bm25 = GermanBM25(avgdl=float(meta["bm25_avgdl"]))  # type: ignore[arg-type]
    for vectors, payload in texts:
        expected = bm25.encode_document(document_text(payload["title"], payload["text"]))
        assert vectors[SPARSE].indices == expected.indices
        assert vectors[SPARSE].values == pytest.approx(expected.values, rel=1e-5)
        assert payload[BM25_TERMS] == len(tokenize(document_text(payload["title"], payload["text"])))


def test_avgdl_follows_a_corpus_that_grows_by_source(store: VectorStore, embedder: Embedder) -> None:
    indexer = make_indexer(store, embedder)
    first = indexer.ingest(headlines(20))
    short = float(store.metadata()["bm25_avgdl"])  # type: ignore[arg-type]
    assert first.reencoded_chunks == 0, "one source of even length does not drift"
    second = indexer.ingest(long_articles(6))
    assert second.reencoded_chunks == store.count(), "long passages moved the mean: all re-encoded"
    assert float(store.metadata()["bm25_avgdl"]) > 1.5 * short  # type: ignore[arg-type]
    assert_encoded_with_corpus_mean(store)
    dense_before = {p.id: p.vector[DENSE] for page in store.scroll_pages() for p in page}  # type: ignore[index]
    assert indexer.ingest(long_articles(6)).reencoded_chunks == 0, "an unchanged ingest rewrites nothing"
    dense_after = {p.id: p.vector[DENSE] for page in store.scroll_pages() for p in page}  # type: ignore[index]
    assert dense_after == dense_before


def test_old_collection_is_repaired_and_a_crashed_reencoding_is_redone(
    store: VectorStore, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_indexer(store, embedder).ingest([*headlines(20), *long_articles(6)])
    # What a collection built before the statistics looks like: the first batch's avgdl, no counts.
    store.update_metadata({"bm25_avgdl": 6.0, "bm25_docs": None, "bm25_total_terms": None})
    for page in store.scroll_pages():
        store.upsert(
            [
                models.PointStruct(
                    id=p.id,
                    vector=p.vector,  # type: ignore[arg-type]
                    payload={k: v for k, v in (p.payload or {}).items() if k != BM25_TERMS},
                )
                for p in page
            ]
        )
    assert scan_stats(store) is None

    real_upsert, calls = store.upsert, []

    def crash_after_first_page(points: list[models.PointStruct]) -> None:
        calls.append(len(points))
        if len(calls) > 1:
            raise RuntimeError("killed")
        real_upsert(points)

    monkeypatch.setattr(store, "upsert", crash_after_first_page)
    with pytest.raises(RuntimeError):
        refresh_sparse(store, batch=8)
    assert store.metadata()["bm25_avgdl"] == 6.0, "the encoding avgdl moves only when all are done"
    monkeypatch.setattr(store, "upsert", real_upsert)

    done = refresh_sparse(store)
    assert done.reencoded == store.count()
    assert done.avgdl_before == 6.0
    assert_encoded_with_corpus_mean(store)
    assert refresh_sparse(store).reencoded == 0, "nothing drifted since"
