"""Chunking and incremental indexing with a real encoder and real Qdrant local mode."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import pytest
from qdrant_client import QdrantClient, models

from ingest.chunking import Chunker
from ingest.pipeline import Indexer
from rag.core.domain import Article, Skipped
from rag.core.payload import point_id
from rag.core.settings import Settings
from rag.models.embeddings import Embedder
from rag.retrieval.sparse import GermanBM25, tokenize
from rag.store.layout import DENSE, SPARSE, StoreUnavailableError
from rag.store.vector_store import VectorStore, open_client

SENTENCE = "Die Bundesnetzagentur prüft den Ausbau der Glasfasernetze in ländlichen Regionen sehr genau. "


def article(i: int, body: str = "", title: str | None = None) -> Article:
    return Article(
        id=str(6_000_000 + i),
        url=f"https://www.heise.de/-{6_000_000 + i}",
        title=title or f"Meldung {i}: Sicherheitslücke in Exchange geschlossen",
        body=body,
        published_at=datetime(2022, 1, 1 + i % 28, 12, tzinfo=UTC),
        source="heise",
    )


@pytest.fixture(scope="module")
def embedder(settings: Settings, provisioned: Callable[[str], Path]) -> Embedder:
    provisioned("all-minilm-l6-v2")
    return Embedder("all-minilm-l6-v2", cache_dir=settings.model_cache_dir)


@pytest.fixture
def indexer(embedder: Embedder) -> Iterator[Indexer]:
    client = QdrantClient(":memory:")
    yield Indexer(
        VectorStore(client, "test"), embedder, Chunker(embedder.count_tokens, 64, 8), flush_chunks=16
    )
    client.close()


def test_chunks_respect_the_token_budget_and_carry_the_title(embedder: Embedder) -> None:
    chunker = Chunker(embedder.count_tokens, max_tokens=64, overlap=8)
    long = article(1, body=SENTENCE * 30)
    chunks = chunker.chunk(long)
    assert len(chunks) > 5
    assert all(embedder.count_tokens(c.embed_text) <= 64 for c in chunks)
    assert all(c.embed_text.startswith(long.title) for c in chunks)
    assert all(c.text.endswith(".") for c in chunks), "chunks end at sentence boundaries"
    assert [c.index for c in chunks] == list(range(len(chunks)))


def test_headline_only_article_is_one_chunk(embedder: Embedder) -> None:
    headline = article(2)
    chunks = Chunker(embedder.count_tokens, 64, 8).chunk(headline)
    assert [(c.index, c.text, c.embed_text) for c in chunks] == [(0, headline.title, headline.title)]


def test_bm25_drops_stop_words_and_stems_inflections() -> None:
    bm25 = GermanBM25(avgdl=8)
    assert tokenize("Die Sicherheitslücken und das Update") == tokenize("Sicherheitslücke Updates")
    assert "die" not in tokenize("Die Lücke")
    doc = bm25.encode_document("Sicherheitslücke Sicherheitslücke Exchange")
    assert len(doc.indices) == 2 and max(doc.values) > min(doc.values)
    assert bm25.encode_query("die der das") == models.SparseVector(indices=[], values=[])


def test_ingest_is_incremental_and_removes_leftover_chunks(indexer: Indexer) -> None:
    items: list[Article | Skipped] = [article(i) for i in range(10)]
    items += [article(99, body=SENTENCE * 12), Skipped(location="x.csv:3", reason="unparseable date")]
    first = indexer.ingest(items)
    assert (first.new, first.updated, first.unchanged) == (11, 0, 0)
    assert [s.reason for s in first.skipped] == ["unparseable date"]
    total = indexer.store.count()
    assert total == first.chunks > 11

    second = indexer.ingest(items)
    assert (second.new, second.updated, second.unchanged, second.chunks) == (0, 0, 11, 0)
    assert indexer.store.count() == total

    shorter = article(99, body=SENTENCE * 2)
    third = indexer.ingest([shorter, article(3)])
    assert (third.new, third.updated, third.unchanged) == (0, 1, 1)
    assert third.removed_chunks > 0
    stored = indexer.store.stored_articles()["heise:6000099"]
    assert stored.complete and stored.content_hash == shorter.content_hash


def test_duplicate_ids_in_one_ingest_are_reported(indexer: Indexer) -> None:
    report = indexer.ingest([article(1), article(1, title="Andere Überschrift")])
    assert report.new == 1
    assert report.skipped == [
        Skipped(location="heise:6000001", reason="Artikel-ID in dieser Aufnahme doppelt")
    ]


def test_interrupted_ingest_is_finished_without_duplicates(indexer: Indexer) -> None:
    items = [article(i, body=SENTENCE * 6) for i in range(6)]

    def crash_after_first_flush() -> Iterator[Article]:
        yield from items[:3]
        raise KeyboardInterrupt

    indexer.flush_chunks = 1
    with pytest.raises(KeyboardInterrupt):
        indexer.ingest(crash_after_first_flush())
    # Simulate a crash between the upsert and its follow-up: one chunk of a written article is lost.
    indexer.store.delete([point_id("heise", items[0].id, 1)])
    resumed = indexer.ingest(items)
    assert resumed.unchanged == 2 and resumed.updated == 1 and resumed.new == 3
    stored = indexer.store.stored_articles()
    assert len(stored) == 6 and all(s.complete for s in stored.values())
    assert indexer.store.count() == sum(len(indexer.chunker.chunk(a)) for a in items)


@pytest.mark.parametrize("policy", ["warn", "skip"])
def test_implausible_dates_are_reported_and_kept_or_skipped_by_setting(
    embedder: Embedder, policy: Literal["warn", "skip"]
) -> None:
    items = [
        article(1).model_copy(update={"published_at": datetime(1, 1, 1, tzinfo=UTC)}),
        article(2),
        article(3).model_copy(update={"published_at": datetime(2099, 12, 31, tzinfo=UTC)}),
    ]
    client = QdrantClient(":memory:")
    store = VectorStore(client, "test")
    chunker = Chunker(embedder.count_tokens, 64, 8)
    report = Indexer(store, embedder, chunker, implausible_dates=policy).ingest(items)
    client.close()
    problems = [
        ("heise:6000001", "unplausibles Erscheinungsdatum 0001-01-01: vor 1995"),
        ("heise:6000003", "unplausibles Erscheinungsdatum 2099-12-31: in der Zukunft"),
    ]
    if policy == "warn":
        assert report.new == 3 and not report.skipped
        assert [(w.location, w.reason) for w in report.date_warnings] == problems
        assert "3 neu, 0 aktualisiert, 0 unverändert, 0 übersprungen, 2 mit unplausiblem Datum" in (
            report.summary()
        )
    else:
        assert report.new == 1 and not report.date_warnings
        assert [(s.location, s.reason) for s in report.skipped] == problems


def test_points_carry_payload_and_both_vectors(indexer: Indexer) -> None:
    indexer.ingest([article(5, body=SENTENCE)])
    hits = indexer.store.client.query_points(
        "test", query=GermanBM25(avgdl=8).encode_query("Glasfasernetze"), using=SPARSE, with_payload=True
    ).points
    assert hits and hits[0].payload is not None
    payload = hits[0].payload
    assert payload["article_id"] == "6000005" and payload["published_at"] == "2022-01-06T12:00:00+00:00"
    dense = indexer.store.client.query_points(
        "test", query=indexer.embedder.encode_query("Glasfaser"), using=DENSE
    )
    assert dense.points


def test_second_process_on_embedded_store_gets_a_clear_message(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, qdrant_path=str(tmp_path / "q"))
    first = open_client(settings)
    try:
        with pytest.raises(StoreUnavailableError, match=r"anderen Prozess benutzt.*HEISE_RAG_QDRANT_URL"):
            open_client(settings)
    finally:
        first.close()
