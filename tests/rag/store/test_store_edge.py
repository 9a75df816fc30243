"""The `edge` embedded engine (qdrant-edge-py behind qdrant-client's API) under the real ingest and
retrieval code: same answers as local mode, incremental re-ingest, persistence, one process per folder."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from qdrant_client import models

from ingest.chunking import Chunker
from ingest.pipeline import Indexer
from rag.core.domain import Article
from rag.core.modes import MODES
from rag.core.settings import Settings
from rag.models.embeddings import Embedder
from rag.retrieval.search import HybridRetriever, SearchFilter, make_retriever
from rag.store.edge import EdgeClient
from rag.store.layout import DENSE, SPARSE, StoreUnavailableError
from rag.store.vector_store import VectorStore, open_client

FILLER = "Weitere Details nannte das Unternehmen zunächst nicht. " * 4
CORPUS = [
    ("1", "Exchange-Server: Jahr-2022-Fehler stoppt Mailzustellung", date(2022, 1, 2), "heise"),
    ("2", "Microsoft patcht kritische Lücke in Exchange", date(2023, 3, 15), "heise"),
    ("3", "Glasfaserausbau in Bayern kommt voran", date(2022, 6, 1), "heise"),
    ("4", "Neue Raspberry-Pi-Generation vorgestellt", date(2023, 10, 5), "heise"),
    ("5", "Wiener Stadtwerke setzen auf Glasfaser", None, "derstandard"),
    ("6", "Exchange Online: Microsoft verschiebt Abschaltung der Basic Auth", date(2022, 9, 1), "heise"),
]
QUERIES = ["Exchange Lücke", "Glasfaserausbaus in Bayern", "Raspberry Pi", "und oder die"]
FILTERS = [
    SearchFilter(),
    SearchFilter(date_from=date(2022, 1, 1), date_to=date(2022, 12, 31)),
    SearchFilter(sources=("derstandard",)),
    SearchFilter(exclude_articles=("2", "6")),
]


def articles() -> list[Article]:
    return [
        Article(
            id=aid,
            title=title,
            body=FILLER,
            published_at=datetime(d.year, d.month, d.day, 10, tzinfo=UTC) if d else None,
            source=source,
        )
        for aid, title, d, source in CORPUS
    ]


@pytest.fixture(scope="module")
def embedder(settings: Settings, provisioned: Callable[[str], Path]) -> Embedder:
    provisioned("all-minilm-l6-v2")
    return Embedder("all-minilm-l6-v2", cache_dir=settings.model_cache_dir)


def indexer(store: VectorStore, embedder: Embedder) -> Indexer:
    return Indexer(store, embedder, Chunker(embedder.count_tokens, 48, 8), flush_chunks=8)


@pytest.fixture(scope="module")
def retrievers(embedder: Embedder) -> Iterator[tuple[HybridRetriever, HybridRetriever]]:
    pair = []
    clients = [
        open_client(Settings(_env_file=None, qdrant_path=":memory:", qdrant_embedded_engine=engine))
        for engine in ("local", "edge")
    ]
    for client in clients:
        store = VectorStore(client, "heise")
        indexer(store, embedder).ingest(articles())
        pair.append(make_retriever(store, embedder, k=10))
    yield pair[0], pair[1]
    for client in clients:
        client.close()


def ranking(
    retriever: HybridRetriever, query: str, search_filter: SearchFilter, mode: str
) -> list[tuple[str, float]]:
    docs = retriever.search(query, search_filter, mode=mode).documents  # type: ignore[arg-type]
    return [(d.metadata["article_id"], round(d.metadata["score"], 4)) for d in docs]


@pytest.mark.parametrize("mode", MODES)
def test_edge_answers_like_local_mode(retrievers: tuple[HybridRetriever, HybridRetriever], mode: str) -> None:
    """Chunks with equal scores may come back in another order, so single modes are compared by
    score (an article both return must score the same) and the fusion, whose ranks follow that
    order, by the articles it finds and the best one."""
    local, edge = retrievers
    for query in QUERIES:
        for search_filter in FILTERS:
            expected = ranking(local, query, search_filter, mode)
            got = ranking(edge, query, search_filter, mode)
            if mode in ("hybrid", "auto"):
                assert {a for a, _ in got} == {a for a, _ in expected}, (query, search_filter)
                assert got[0][0] == expected[0][0], (query, search_filter)
                continue
            assert [score for _, score in got] == [score for _, score in expected], (query, search_filter)
            common = dict(expected).keys() & dict(got).keys()
            assert {a: dict(got)[a] for a in common} == {a: dict(expected)[a] for a in common}
    assert {a for a, _ in ranking(edge, "Exchange", FILTERS[1], mode)} <= {"1", "3", "6"}


def test_edge_store_is_incremental_and_persistent(embedder: Embedder, tmp_path: Path) -> None:
    settings = Settings(_env_file=None, var_dir=tmp_path, qdrant_embedded_engine="edge")
    assert settings.resolved_qdrant_path == str(tmp_path / "qdrant-edge")
    client = open_client(settings)
    assert isinstance(client, EdgeClient)
    store = VectorStore(client, "heise")
    first = indexer(store, embedder).ingest(articles())
    points = store.count()
    assert first.new == len(CORPUS) and points > len(CORPUS)
    store.update_metadata({"complete_sources": ["test"]})
    with pytest.raises(StoreUnavailableError, match="von einem anderen Prozess benutzt"):
        VectorStore(open_client(settings), "heise").count()
    client.close()

    client = open_client(settings)
    store = VectorStore(client, "heise")
    assert store.count() == points
    assert store.metadata()["complete_sources"] == ["test"]
    assert client.get_collection("heise").config.params.vectors[DENSE].size == embedder.dim  # type: ignore[index]
    assert [c.name for c in client.get_collections().collections] == ["heise"]
    shorter = articles()[0].model_copy(update={"body": ""})
    second = indexer(store, embedder).ingest([shorter, *articles()[1:]])
    assert (second.unchanged, second.updated) == (len(CORPUS) - 1, 1) and second.removed_chunks > 0
    records, _ = client.scroll("heise", limit=1, with_payload=True, with_vectors=True)
    vectors = records[0].vector
    assert isinstance(vectors, dict) and len(vectors[DENSE]) == embedder.dim  # type: ignore[arg-type]
    assert isinstance(vectors[SPARSE], models.SparseVector) and vectors[SPARSE].indices
    client.close()


def test_filters_outside_the_mapped_subset_are_named(tmp_path: Path) -> None:
    client = EdgeClient(str(tmp_path))
    client.create_collection("c", {DENSE: models.VectorParams(size=2, distance=models.Distance.COSINE)})
    unsupported = models.Filter(must=[models.HasIdCondition(has_id=[1])])
    with pytest.raises(TypeError, match="HasIdCondition"):
        client.query_points("c", query=[1.0, 0.0], using=DENSE, query_filter=unsupported)
    client.close()
