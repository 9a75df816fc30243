"""Hybrid retrieval over the Qdrant collection: dense E5 + sparse BM25, fused in one query.

Why one Query API call: Qdrant prefetches both vector kinds with the same filter and fuses them
server side, so a server deployment pays one round trip. The fusion (distribution-based score
fusion or weighted reciprocal rank fusion), weights and candidate depths are parameters because the
best mix differs by corpus: the evaluation tunes them instead of fixing one recipe by faith
(bench/fusion.py: DBSF beat RRF at every k tried on both dev sets).

Why the ``auto`` mode: hybrid wins where questions share words with the text (XQuAD dev, MRR@10
0.946 vs 0.880 dense) and loses on paraphrases (heise dev, 0.619 vs 0.795). A question whose best
BM25 chunk stands out of the sparse list matches lexically, so ``auto`` fetches both lists once and
fuses them (DBSF) only then; otherwise it keeps the dense list (``prefers_hybrid``). The threshold
was picked on the heise dev answers and confirmed on XQuAD dev (docs/configuration.md,
``HEISE_RAG_AUTO_SPARSE_THRESHOLD``; ``python -m bench.fusion --sweep`` replays the signals).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dtime

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict
from qdrant_client import models
from qdrant_client.hybrid.fusion import distribution_based_score_fusion

from rag.core.domain import BERLIN
from rag.core.modes import Fusion, Mode
from rag.core.payload import article_key
from rag.models.embeddings import Embedder
from rag.retrieval.sparse import GermanBM25
from rag.store.layout import DENSE, SPARSE
from rag.store.vector_store import VectorStore


@dataclass(frozen=True)
class SearchFilter:
    """Date range (inclusive, Berlin days) and sources to restrict a search to, and articles to
    leave out (the evaluation asks each question once more without its gold articles, to measure
    refusals where the index holds no answer)."""

    date_from: date | None = None
    date_to: date | None = None
    sources: tuple[str, ...] = ()
    exclude_articles: tuple[str, ...] = ()

    def to_qdrant(self) -> models.Filter | None:
        must: list[models.Condition] = []
        if self.date_from or self.date_to:
            start = datetime.combine(self.date_from, dtime.min, BERLIN) if self.date_from else None
            end = (
                datetime.combine(self.date_to + timedelta(days=1), dtime.min, BERLIN)
                if self.date_to
                else None
            )
            must.append(
                models.FieldCondition(key="published_at", range=models.DatetimeRange(gte=start, lt=end))
            )
        if self.sources:
            must.append(models.FieldCondition(key="source", match=models.MatchAny(any=list(self.sources))))
        must_not: list[models.Condition] = []
        if self.exclude_articles:
            excluded = models.MatchAny(any=list(self.exclude_articles))
            must_not.append(models.FieldCondition(key="article_id", match=excluded))
        if not must and not must_not:
            return None
        return models.Filter(must=must or None, must_not=must_not or None)


@dataclass
class SearchResult:
    """Article-level hits (best chunk per article) and the time each stage took, in seconds."""

    documents: list[Document]
    timings: dict[str, float] = field(default_factory=dict)


def prefers_hybrid(sparse_hits: list[models.ScoredPoint], threshold: float) -> bool:
    """Whether ``auto`` fuses: the best BM25 score stands ``threshold`` standard deviations or more
    above the mean of the sparse prefetch.

    Why this signal: BM25 helps where the question shares rare words with one passage (XQuAD: hybrid
    MRR@10 0.946 against dense 0.873) and hurts where questions paraphrase a headline (the heise
    questions: 0.619 against 0.795). A top hit that stands out of its list marks the first kind; the
    raw top score (the signal until 2026-12-07) grows with the question's length and the corpus'
    IDF scale, the distance in standard deviations does not. Fewer than two hits, or hits all
    alike, never fuse.
    """
    scores = [hit.score for hit in sparse_hits]
    if len(scores) < 2:
        return False
    spread = statistics.stdev(scores)
    return spread > 0 and (scores[0] - statistics.fmean(scores)) / spread >= threshold


def to_document(point: models.ScoredPoint) -> Document:
    payload = dict(point.payload or {})
    text = payload.pop("text", "")
    return Document(page_content=text, metadata=payload | {"score": point.score, "point_id": str(point.id)})


class HybridRetriever(BaseRetriever):
    """A LangChain retriever, so it composes with the ecosystem; `search` also reports timings."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: VectorStore
    embedder: Embedder
    bm25: GermanBM25
    mode: Mode = "hybrid"
    k: int = 30
    dense_limit: int = 100
    sparse_limit: int = 100
    dense_weight: float = 1.0
    sparse_weight: float = 1.0
    rrf_k: int = 60
    fusion: Fusion = "dbsf"
    auto_sparse_threshold: float = 6.3
    search_filter: SearchFilter = SearchFilter()

    def _query(
        self, query: str, limit: int, qfilter: models.Filter | None, mode: Mode
    ) -> tuple[list[models.ScoredPoint], dict]:
        timings: dict[str, float] = {}
        started = time.perf_counter()
        dense = self.embedder.encode_query(query).tolist() if mode != "sparse" else None
        sparse = self.bm25.encode_query(query) if mode != "dense" else None
        timings["embed"] = time.perf_counter() - started
        if sparse is not None and not sparse.indices:
            sparse = None  # only stop words: lexical search has nothing to match
        started = time.perf_counter()
        client, name = self.store.client, self.store.collection
        if mode == "auto" and dense is not None and sparse is not None:
            points = self._auto(dense, sparse, limit, qfilter)
            timings["search"] = time.perf_counter() - started
            return points, timings
        if dense is not None and sparse is not None:
            response = client.query_points(
                name,
                prefetch=[
                    models.Prefetch(query=dense, using=DENSE, limit=self.dense_limit, filter=qfilter),
                    models.Prefetch(query=sparse, using=SPARSE, limit=self.sparse_limit, filter=qfilter),
                ],
                query=self._fusion_query(),
                limit=limit,
                with_payload=True,
            )
        elif dense is not None or sparse is not None:
            using, vector = (DENSE, dense) if dense is not None else (SPARSE, sparse)
            response = client.query_points(
                name, query=vector, using=using, query_filter=qfilter, limit=limit, with_payload=True
            )
        else:
            return [], timings | {"search": 0.0}
        timings["search"] = time.perf_counter() - started
        return response.points, timings

    def _auto(
        self, dense: list[float], sparse: models.SparseVector, limit: int, qfilter: models.Filter | None
    ) -> list[models.ScoredPoint]:
        """Both candidate lists; DBSF-fused when the lexical match is strong, else the dense one.

        The fusion runs here (qdrant-client's own DBSF, the formula the server applies) because the
        decision needs the sparse scores, which a server-side fused query does not return. Two plain
        queries rather than one batch: the edge engine's client speaks ``query_points`` only.
        """
        client, name = self.store.client, self.store.collection
        dense_hits, sparse_hits = (
            client.query_points(
                name, query=vector, using=using, query_filter=qfilter, limit=depth, with_payload=True
            ).points
            for using, vector, depth in (
                (DENSE, dense, self.dense_limit),
                (SPARSE, sparse, self.sparse_limit),
            )
        )
        if prefers_hybrid(sparse_hits, self.auto_sparse_threshold):
            return distribution_based_score_fusion([dense_hits, sparse_hits], limit)
        return dense_hits[:limit]

    def _fusion_query(self) -> models.RrfQuery | models.FusionQuery:
        """DBSF normalises each side's scores (mean +- 3 sd) and adds them; RRF adds weighted 1/rank."""
        if self.fusion == "dbsf":
            return models.FusionQuery(fusion=models.Fusion.DBSF)
        return models.RrfQuery(rrf=models.Rrf(k=self.rrf_k, weights=[self.dense_weight, self.sparse_weight]))

    def search(
        self, query: str, search_filter: SearchFilter | None = None, mode: Mode | None = None
    ) -> SearchResult:
        """Up to ``k`` articles, each represented by its best-scoring chunk."""
        qfilter = (search_filter or self.search_filter).to_qdrant()
        points, timings = self._query(query, self.k * 3, qfilter, mode or self.mode)
        best: dict[str, Document] = {}
        for point in points:
            doc = to_document(point)
            key = article_key(doc.metadata["source"], doc.metadata["article_id"])
            if key not in best:
                best[key] = doc
            if len(best) == self.k:
                break
        return SearchResult(list(best.values()), timings)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return self.search(query).documents


def make_retriever(store: VectorStore, embedder: Embedder, **options: object) -> HybridRetriever:
    """A retriever whose BM25 uses the collection's own average document length."""
    avgdl = float(store.metadata().get("bm25_avgdl", 1.0))  # type: ignore[arg-type]
    return HybridRetriever(store=store, embedder=embedder, bm25=GermanBM25(avgdl=avgdl), **options)
