"""A whole retrieval evaluation as one call: pick the questions, search each mode, write the report.

Why a library function: the command line (`heise-rag eval retrieval`), benchmarks and tests run the
same evaluation with the same settings; the command only parses, prints and applies the gates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from eval.gold import gold_passages, keep_known_gold
from eval.questions import QuestionSet, sample
from eval.retrieval_eval import ModeResult, evaluate_mode
from eval.retrieval_report import flat_metrics, write_retrieval_report
from rag.core.modes import EVAL_MODES, RERANK_SUFFIX
from rag.core.settings import Settings
from rag.models.embeddings import Embedder
from rag.pipelines.components import make_reranker
from rag.retrieval.search import make_retriever
from rag.store.vector_store import VectorStore, open_client


class EvalSetupError(ValueError):
    """The evaluation cannot start (no such collection, no question with a known gold article)."""


@dataclass(frozen=True)
class RetrievalEvalRequest:
    """What to evaluate: a loaded question set, the collection, the modes (None: all configured)."""

    questions: QuestionSet
    collection: str
    output: Path
    modes: Sequence[str] | None = None
    k: int = 10
    limit: int | None = None
    seed: int = 0


@dataclass(frozen=True)
class RetrievalEvalRun:
    """Per-mode results, the questions' problems and the flat metrics the gates read."""

    results: list[ModeResult]
    n_questions: int
    problems: list[str]
    flat: dict[str, float]
    report: Path


ProgressFactory = Callable[[str, int], Callable[[], None]]


def run_retrieval_eval(
    request: RetrievalEvalRequest, settings: Settings, progress: ProgressFactory | None = None
) -> RetrievalEvalRun:
    """Score every mode on the request's questions and write report.md, metrics.json and plots.

    ``progress(mode, n)`` returns the callback ticked once per question (the CLI's progress bar).
    """
    client = open_client(settings)
    try:
        store = VectorStore(client, request.collection)
        if not store.exists():
            raise EvalSetupError(f"Sammlung {request.collection!r} gibt es nicht.")
        items, problems = keep_known_gold(
            sample(request.questions.questions, request.limit, request.seed), gold_passages(store, [])
        )
        if not items:
            raise EvalSetupError("keine Frage hat einen Gold-Artikel in der Sammlung.")
        retriever = make_retriever(
            store,
            Embedder.from_settings(settings),
            k=max(request.k, settings.retrieval_candidates),
            dense_limit=settings.prefetch_limit,
            sparse_limit=settings.prefetch_limit,
            dense_weight=settings.dense_weight,
            sparse_weight=settings.sparse_weight,
            fusion=settings.fusion,
            rrf_k=settings.rrf_k,
            auto_sparse_threshold=settings.auto_sparse_threshold,
        )
        reranker = make_reranker(settings, top_n=request.k)
        modes = list(request.modes or [])
        if not modes or modes == ["all"]:
            modes = [m for m in EVAL_MODES if reranker is not None or not m.endswith(f"+{RERANK_SUFFIX}")]
        results = [
            evaluate_mode(
                mode,
                items,
                retriever,
                reranker,
                request.k,
                on_question=progress(mode, len(items)) if progress else None,
            )
            for mode in modes
        ]
    finally:
        client.close()
    meta = {
        "questions": str(request.questions.path),
        "n_questions": len(items),
        "sample": f"{request.limit} (seed {request.seed})" if request.limit else "all",
        "collection": request.collection,
        "embedding_model": settings.embedding_model,
        "reranker_model": settings.reranker_model or "none",
        "reranker_order": (
            f"RRF with the search order, weight {settings.reranker_first_stage_weight:g}"
            if settings.reranker_first_stage_weight
            else "the reranker's scores alone"
        ),
        "fusion": (
            "DBSF"
            if settings.fusion == "dbsf"
            else f"weighted RRF k {settings.rrf_k}, "
            f"dense {settings.dense_weight} / sparse {settings.sparse_weight}"
        )
        + f", prefetch {settings.prefetch_limit}",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    all_problems = [*request.questions.problems, *problems]
    write_retrieval_report(results, request.output, "Retrieval evaluation", meta, all_problems)
    return RetrievalEvalRun(
        results, len(items), problems, flat_metrics(results), request.output / "report.md"
    )
