"""Hybrid retrieval, filters and collapsing on a small real index (real encoder, Qdrant local mode)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from qdrant_client import QdrantClient, models

from ingest.chunking import Chunker
from ingest.pipeline import Indexer
from rag.core.domain import Article
from rag.core.settings import Settings
from rag.models.embeddings import Embedder
from rag.retrieval.search import HybridRetriever, SearchFilter, make_retriever, prefers_hybrid
from rag.store.vector_store import VectorStore

FILLER = "Weitere Details nannte das Unternehmen zunächst nicht. " * 12
CORPUS = [
    ("1", "Exchange-Server: Jahr-2022-Fehler stoppt Mailzustellung", date(2022, 1, 2), "heise"),
    ("2", "Microsoft patcht kritische Lücke in Exchange", date(2023, 3, 15), "heise"),
    ("3", "Glasfaserausbau in Bayern kommt voran", date(2022, 6, 1), "heise"),
    ("4", "Neue Raspberry-Pi-Generation vorgestellt", date(2023, 10, 5), "heise"),
    ("5", "Wiener Stadtwerke setzen auf Glasfaser", None, "derstandard"),
]


def make_article(aid: str, title: str, day: date | None, source: str) -> Article:
    published = datetime(day.year, day.month, day.day, 10, tzinfo=UTC) if day else None
    return Article(id=aid, title=title, body=FILLER, published_at=published, source=source)


@pytest.fixture(scope="module")
def retriever(settings: Settings, provisioned: Callable[[str], Path]) -> Iterator[HybridRetriever]:
    provisioned("all-minilm-l6-v2")
    embedder = Embedder("all-minilm-l6-v2", cache_dir=settings.model_cache_dir)
    client = QdrantClient(":memory:")
    store = VectorStore(client, "heise")
    Indexer(store, embedder, Chunker(embedder.count_tokens, 48, 8)).ingest(
        make_article(*row) for row in CORPUS
    )
    yield make_retriever(store, embedder, k=10)
    client.close()


def ids(docs: list) -> list[str]:
    return [d.metadata["article_id"] for d in docs]


def test_sparse_mode_matches_stemmed_german_words(retriever: HybridRetriever) -> None:
    found = ids(retriever.search("Glasfaserausbaus in Bayern", mode="sparse").documents)
    assert found[0] == "3"


@pytest.mark.parametrize("mode", ["dense", "sparse", "hybrid", "auto"])
def test_results_are_collapsed_to_articles(retriever: HybridRetriever, mode: str) -> None:
    result = retriever.search("Exchange Lücke", mode=mode)  # type: ignore[arg-type]
    found = ids(result.documents)
    assert found and len(found) == len(set(found))
    assert set(found) <= {row[0] for row in CORPUS}
    assert {"embed", "search"} <= result.timings.keys()
    assert "2" in found[:2]


def test_date_filter_keeps_only_articles_in_range(retriever: HybridRetriever) -> None:
    window = SearchFilter(date_from=date(2022, 1, 1), date_to=date(2022, 3, 31))
    assert ids(retriever.search("Exchange", window).documents) == ["1"]
    assert retriever.search("Exchange", SearchFilter(date(2019, 1, 1), date(2019, 12, 31))).documents == []


def test_source_filter(retriever: HybridRetriever) -> None:
    assert ids(retriever.search("Glasfaser", SearchFilter(sources=("derstandard",))).documents) == ["5"]


@pytest.mark.parametrize("mode", ["dense", "sparse", "hybrid"])
def test_excluded_articles_never_come_back(retriever: HybridRetriever, mode: str) -> None:
    """The no-answer twins of the evaluation search without their gold articles; the rest stays."""
    found = ids(retriever.search("Exchange Lücke", mode=mode).documents)  # type: ignore[arg-type]
    left_out = {found[0]}
    without = SearchFilter(exclude_articles=tuple(left_out))
    rest = ids(retriever.search("Exchange Lücke", without, mode=mode).documents)  # type: ignore[arg-type]
    assert len(found) > 1 and found[1] in rest and not left_out & set(rest)
    window = SearchFilter(date(2022, 1, 1), date(2022, 12, 31), exclude_articles=("1",))
    in_window = ids(retriever.search("Exchange", window).documents)
    assert in_window and "1" not in in_window  # together with a date range


def test_stop_word_query_falls_back_to_dense(retriever: HybridRetriever) -> None:
    assert retriever.search("und oder die", mode="sparse").documents == []
    assert retriever.search("und oder die", mode="hybrid").documents
    assert retriever.search("und oder die", mode="auto").documents


def hits(*scores: float) -> list[models.ScoredPoint]:
    return [models.ScoredPoint(id=i, version=0, score=s) for i, s in enumerate(scores)]


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ((), False),
        ((24.0,), False),
        ((10.0, 10.0, 10.0), False),
        ((3.0, 2.0, 1.0), False),
        ((30.0, *[1.0] * 99), True),
        ((12.0, 6.0, *[1.0] * 98), True),
    ],
    ids=["no lexical match", "one hit", "all alike", "evenly spread", "top stands out", "moderate top"],
)
def test_auto_fuses_only_when_the_best_bm25_score_stands_out_of_the_sparse_list(
    scores: tuple[float, ...], expected: bool
) -> None:
    """The signal is the top score's distance from the list's mean in standard deviations, so it
    does not depend on the corpus' IDF scale or the question's length."""
    assert prefers_hybrid(hits(*scores), 6.3) is expected
    assert prefers_hybrid(hits(*[s * 3 for s in scores]), 6.3) is expected  # scale-free


def test_auto_returns_the_hybrid_or_the_dense_ranking(retriever: HybridRetriever) -> None:
    """Threshold -inf: the question fuses, and the client-side DBSF ranks as Qdrant's fused query does;
    threshold infinity: the dense ranking. The query is one where the two rankings differ."""
    query = "Exchange Lücke"
    hybrid = ids(retriever.search(query, mode="hybrid").documents)
    dense = ids(retriever.search(query, mode="dense").documents)
    assert hybrid != dense
    always = retriever.model_copy(update={"auto_sparse_threshold": -math.inf})
    never = retriever.model_copy(update={"auto_sparse_threshold": math.inf})
    assert ids(always.search(query, mode="auto").documents) == hybrid
    assert ids(never.search(query, mode="auto").documents) == dense


def test_is_a_langchain_retriever(retriever: HybridRetriever) -> None:
    docs = retriever.invoke("Raspberry Pi")
    assert docs[0].metadata["title"] == "Neue Raspberry-Pi-Generation vorgestellt"
    assert docs[0].page_content and docs[0].metadata["score"] > 0


BAD_QUERIES = {
    "one character": "x",
    "stop words only": "der die das und oder",
    "2,000 characters": ("Exchange Glasfaser Raspberry " * 80)[:2000],
    "numbers only": "2022 2023 42",
    "mixed German/English terms": "Exchange Online Y2K22 Bug",
    "punctuation only": "?!.,;",
}


@pytest.mark.parametrize("mode", ["dense", "sparse", "hybrid", "auto"])
@pytest.mark.parametrize("query", BAD_QUERIES.values(), ids=BAD_QUERIES.keys())
def test_awkward_queries_give_a_result_list(retriever: HybridRetriever, mode: str, query: str) -> None:
    """Odd user input is answered with a (possibly empty) list of articles, never an exception."""
    found = ids(retriever.search(query, mode=mode).documents)  # type: ignore[arg-type]
    assert len(found) == len(set(found))
    if mode != "sparse":
        assert found, "dense search always has neighbours"


def test_mixed_technical_terms_find_their_article(retriever: HybridRetriever) -> None:
    assert ids(retriever.search("Exchange Online Y2K22 Bug", mode="sparse").documents)[0] in {"1", "2"}
