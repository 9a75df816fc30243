"""Retrieval evaluation: per mode, recall@1/5/10, MRR@10 and nDCG@10 with bootstrap intervals.

Why per-question rows: an aggregate hides which questions a change fixed or broke, so every
mode's rank of the first gold article and its latency are kept for the CSV.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, cast

from eval.questions import EvalQuestion
from eval.retrieval_metrics import (
    bootstrap_ci,
    first_gold_rank,
    ndcg_at,
    percentile,
    recall_at,
    reciprocal_rank,
)
from rag.core.modes import EVAL_MODES, MODES, RERANK_SUFFIX, Mode
from rag.core.timefilter import without_covered_dates
from rag.retrieval.rerank import CrossEncoderReranker
from rag.retrieval.search import HybridRetriever, SearchFilter

METRICS = ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10")


@dataclass
class ModeResult:
    mode: str
    metrics: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    latency_ms: dict[str, float]
    rows: list[dict[str, Any]] = field(default_factory=list)
    recall_curve: list[float] = field(default_factory=list)
    """Mean recall@k for k = 1..K, for the recall-at-k plot."""


def question_metrics(ranked: Sequence[str], gold: Sequence[str]) -> dict[str, float]:
    return {
        "recall@1": recall_at(ranked, gold, 1),
        "recall@5": recall_at(ranked, gold, 5),
        "recall@10": recall_at(ranked, gold, 10),
        "mrr@10": reciprocal_rank(ranked, gold, 10),
        "ndcg@10": ndcg_at(ranked, gold, 10),
    }


def evaluate_mode(
    mode: str,
    questions: Sequence[EvalQuestion],
    retriever: HybridRetriever,
    reranker: CrossEncoderReranker | None,
    k: int = 10,
    on_question: Callable[[], None] | None = None,
) -> ModeResult:
    """Run one mode over all questions; ``+rerank`` reranks the retriever's candidates."""
    base, _, suffix = mode.partition("+")
    if base not in MODES or suffix not in ("", RERANK_SUFFIX):
        raise ValueError(f"unbekannter Modus {mode!r}; bekannt: {', '.join(EVAL_MODES)}")
    if suffix and reranker is None:
        raise ValueError(f"Modus {mode!r} braucht einen Reranker: HEISE_RAG_RERANKER_MODEL setzen")
    rows: list[dict[str, Any]] = []
    curve = [0.0] * k
    for q in questions:
        started = time.perf_counter()
        # the query text the pipeline searches with (``RagPipeline._retrieve``)
        text = without_covered_dates(q.question, q.date_from, q.date_to, date.today())
        docs = retriever.search(text, SearchFilter(q.date_from, q.date_to), cast(Mode, base)).documents
        if suffix and reranker is not None:
            docs = list(reranker.compress_documents(docs, q.question))
        latency = (time.perf_counter() - started) * 1000
        ranked = [d.metadata["article_id"] for d in docs][:k]
        for cut in range(1, k + 1):
            curve[cut - 1] += recall_at(ranked, q.gold_ids, cut) / len(questions)
        rows.append(
            {"qid": q.qid, "mode": mode, "rank": first_gold_rank(ranked, q.gold_ids), "latency_ms": latency}
            | question_metrics(ranked, q.gold_ids)
        )
        if on_question:
            on_question()
    latencies = [r["latency_ms"] for r in rows]
    return ModeResult(
        mode=mode,
        metrics={m: sum(r[m] for r in rows) / len(rows) for m in METRICS},
        intervals={m: bootstrap_ci([r[m] for r in rows]) for m in METRICS},
        latency_ms={"p50": percentile(latencies, 50), "p95": percentile(latencies, 95)},
        rows=rows,
        recall_curve=curve,
    )
