"""A whole answer evaluation as one call: answer the questions, score them, write the report.

Why a library function: the command line (`heise-rag eval answers`) and tests run the same
evaluation; the command only parses, prints and applies the gates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from eval.answer_eval import ANSWER_METRICS, Aggregate, aggregate, latency_summary, run_answers, score_answer
from eval.answer_report import write_answer_report
from eval.gold import gold_passages, keep_known_gold
from eval.no_answer import NO_ANSWER_METRIC, gold_families, no_answer_scores
from eval.questions import QuestionSet, sample
from eval.ragas_scores import JUDGE_METRICS, NON_LLM_METRICS, RagasSample, judge_scores, non_llm_scores
from eval.reader_eval import READER_METRICS, kind_sweeps, reader_only, reader_report_lines
from eval.retrieval_run import EvalSetupError
from rag.core.settings import Settings
from rag.pipelines.ask import AskOptions
from rag.pipelines.components import open_pipeline


@dataclass(frozen=True)
class AnswerEvalRequest:
    """What to evaluate: a loaded question set, the collection, the generator and an optional judge."""

    questions: QuestionSet
    collection: str
    output: Path
    backend: str | None = None
    rerank: bool = True
    judge: str | None = None
    judge_model: str = "tgi"
    limit: int | None = None
    seed: int = 0
    no_answer_twins: bool = False


@dataclass(frozen=True)
class AnswerEvalRun:
    """Aggregated metrics, judge failures per metric, the questions' problems and the report."""

    summary: dict[str, Aggregate]
    judge_failures: dict[str, list[str]] | None
    n_questions: int
    problems: list[str]
    report: Path


def run_answer_eval(
    request: AnswerEvalRequest, settings: Settings, on_question: Callable[[], None] | None = None
) -> AnswerEvalRun:
    """Answer each question with the full pipeline, score it (with ragas' judge when given), report."""
    questions = request.questions
    with open_pipeline(settings, request.backend, request.collection) as pipeline:
        passages = gold_passages(pipeline.retriever.store, questions.questions)
        items, problems = keep_known_gold(sample(questions.questions, request.limit, request.seed), passages)
        if not items:
            raise EvalSetupError("keine Frage hat einen Gold-Artikel in der Sammlung.")
        options = AskOptions(k=settings.answer_sources, mode=settings.retrieval_mode, rerank=request.rerank)
        records = run_answers(items, pipeline, options, on_question=on_question)
        twins = []
        if request.no_answer_twins:
            families = gold_families(items, passages)
            twins = run_answers(
                items, pipeline, options, on_question=on_question, exclude=lambda q: families[q.qid]
            )
        reader_rows = reader_only(pipeline.reader, items, passages) if pipeline.reads else {}
        reads = pipeline.reads

    scores = {r.question.qid: score_answer(r.question, r.answer) for r in records if r.answer}
    samples = [
        RagasSample(
            qid=r.question.qid,
            question=r.question.question,
            response=r.answer.text,
            retrieved_contexts=[s.passage for s in r.answer.sources],
            reference_contexts=[p for g in r.question.gold_ids for p in passages.get(g, [])],
            reference=r.question.answer,
        )
        for r in records
        if r.answer
    ]
    for qid, reader_row in reader_rows.items():
        scores.setdefault(qid, {}).update(reader_row)
    for qid, twin_row in no_answer_scores(twins).items():
        scores.setdefault(qid, {}).update(twin_row)
    metric_names = [
        *ANSWER_METRICS,
        *NON_LLM_METRICS,
        *(READER_METRICS if reads else ()),
        *((NO_ANSWER_METRIC,) if twins else ()),
    ]
    for qid, ragas_row in non_llm_scores(samples).items():
        scores[qid].update(ragas_row)
    failures = None
    if request.judge:
        from rag.models.embeddings import Embedder

        judged = judge_scores(
            samples,
            request.judge,
            request.judge_model,
            Embedder.from_settings(settings),
            api_key=settings.generator_api_key.get_secret_value() if settings.generator_api_key else None,
            timeout=settings.generator_timeout,
        )
        for qid, judged_row in judged.scores.items():
            scores[qid].update(judged_row)
        failures = judged.failures
        metric_names += JUDGE_METRICS
    summary = aggregate(list(scores.values()), metric_names)
    meta = {
        "questions": str(questions.path),
        "n_questions": len(items),
        "sample": f"{request.limit} (seed {request.seed})" if request.limit else "all",
        "collection": request.collection,
        "generator": f"{request.backend or settings.generator_backend}: {settings.generator_model}",
        "retrieval": settings.retrieval_mode,
        "reranker": (settings.reranker_model or "none") if request.rerank else "off",
        "sources per answer": settings.answer_sources,
        "answer mode": settings.answer_mode if reads else "generate",
        "reader": f"{settings.reader_model} (min confidence: headlines {settings.reader_min_confidence}, "
        f"passages {settings.reader_passage_min_confidence})"
        if reads
        else "none",
        "no-answer twins": "each question asked again without its gold articles" if twins else "no",
        "passage reader": str(settings.reader_passage_model) if reads else "none",
        "judge": f"{request.judge} ({request.judge_model})" if request.judge else "none",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    write_answer_report(
        request.output,
        records,
        scores,
        summary,
        latency_summary(records),
        meta,
        [*questions.problems, *problems],
        failures,
        reader_report_lines(records, kind_sweeps(records, twins)) if reads else [],
        twins,
    )
    return AnswerEvalRun(summary, failures, len(items), problems, request.output / "report.md")
