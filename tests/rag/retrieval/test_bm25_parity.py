"""The project's sparse search is textbook BM25: the same top 10 as `bm25s` over the same chunks.

A corpus that grows by source (short headlines first, then long articles) is the case that broke
parity once: the collection's avgdl was the headlines' alone. Real sources, real chunker, real
Qdrant local mode; the reference sees the stored chunk texts through the project's tokenizer.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from itertools import islice, pairwise
from pathlib import Path

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from bench.bm25_parity import K1, ReferenceBM25
from ingest.chunking import Chunker
from ingest.pipeline import Indexer
from ingest.sources import SOURCES
from rag.core.domain import Article
from rag.core.settings import Settings
from rag.models.embeddings import Embedder
from rag.retrieval.sparse import GermanBM25, document_text, tokenize
from rag.store.layout import SPARSE
from rag.store.vector_store import VectorStore


@pytest.fixture(scope="module")
def corpus(
    settings: Settings, provisioned: Callable[[str], Path], data_file: Callable[[str], Path]
) -> Iterator[tuple[VectorStore, list[str], list[str]]]:
    """A store of 150 headlines then 20 derStandard articles; point ids and texts in one order."""
    provisioned("all-minilm-l6-v2")
    embedder = Embedder("all-minilm-l6-v2", cache_dir=settings.model_cache_dir)
    headlines = SOURCES["headlines"](str(data_file("heise-headlines/newsticker-2022-2023-good-bad.csv.gz")))
    articles = SOURCES["10kgnad"](str(data_file("10kgnad/test.csv")))
    client = QdrantClient(":memory:")
    store = VectorStore(client, "parity")
    indexer = Indexer(store, embedder, Chunker(embedder.count_tokens, 96, 8), flush_chunks=64)
    for source in (headlines, articles):
        first = islice(source, 150 if source is headlines else 20)
        indexer.ingest(a for a in first if isinstance(a, Article))
    ids, texts = [], []
    for point_id, payload in store.scroll_payloads(["title", "text"]):
        ids.append(point_id)
        texts.append(document_text(payload["title"], payload["text"]))
    yield store, ids, texts
    client.close()


def queries(texts: list[str], n: int = 40) -> list[str]:
    """Word sets drawn from the corpus' own chunks (2-6 words), so every query has hits."""
    rng = random.Random(7)
    drawn = []
    for text in rng.sample(texts, n):
        words = text.split()
        drawn.append(" ".join(rng.sample(words, min(len(words), rng.randint(2, 6)))))
    return drawn


def test_qdrant_idf_is_lucenes() -> None:
    """Qdrant's IDF modifier and bm25s's Lucene IDF are one formula: ln(1 + (N - n + 0.5)/(n + 0.5))."""
    client = QdrantClient(":memory:")
    store = VectorStore(client, "idf")
    store.create(4, {"bm25_avgdl": 1.0, "dim": 4})
    docs = [["a"], ["a"], ["a"], ["b"], ["c"]]
    bm25 = GermanBM25(avgdl=1.0)
    store.upsert(
        [
            models.PointStruct(id=i, vector={"dense": [1.0, 0, 0, 0], SPARSE: bm25.encode_terms(d)})
            for i, d in enumerate(docs)
        ]
    )
    query = bm25.encode_query("a")
    hits = client.query_points("idf", query=query, using=SPARSE, limit=1).points
    reference = ReferenceBM25(docs)
    assert hits[0].score == pytest.approx((K1 + 1) * reference.scores("a")[0], rel=1e-5)
    client.close()


def test_same_top10_as_bm25s(corpus: tuple[VectorStore, list[str], list[str]]) -> None:
    store, ids, texts = corpus
    avgdl = float(store.metadata()["bm25_avgdl"])  # type: ignore[arg-type]
    tokens = [tokenize(t) for t in texts]
    assert avgdl == pytest.approx(sum(map(len, tokens)) / len(tokens)), "avgdl is the corpus mean"
    reference = ReferenceBM25(tokens)
    bm25 = GermanBM25(avgdl=avgdl)
    for query in queries(texts):
        expected = reference.top(query, 11)
        hits = store.client.query_points(
            store.collection, query=bm25.encode_query(query), using=SPARSE, limit=10
        ).points
        got = [ids.index(str(h.id)) for h in hits]
        assert [h.score / (K1 + 1) for h in hits] == pytest.approx([s for _, s in expected[:10]], rel=1e-4)
        assert same_top(got, [i for i, _ in expected], reference.scores(query)), query


def same_top(got: list[int], expected: list[int], scores: np.ndarray, rel: float = 1e-4) -> bool:
    """The same top 10 up to ties: ``got`` is in the reference's score order, holds every reference
    hit that beats the 11th, and nothing below it (tied documents may swap places across the cut)."""
    cut = scores[expected[10]] if len(expected) > 10 else 0.0
    ordered = all(scores[a] >= scores[b] * (1 - rel) for a, b in pairwise(got))
    above = {i for i in expected[:10] if scores[i] > cut * (1 + rel)}
    return ordered and above <= set(got) and all(scores[i] >= cut * (1 - rel) for i in got)
