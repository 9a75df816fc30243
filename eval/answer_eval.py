"""Answer evaluation without an LLM: the full ask pipeline per question, scored against the gold.

Metrics per question (``None`` where a metric is undefined, e.g. no reference answer or no
citation, so that averages only count questions where the metric means something):
- ``exact_match``, ``token_f1``, ``contains_answer``: SQuAD-style, German normalization;
- ``citation_precision``: share of cited sources whose article is a gold article;
- ``citation_recall``: share of gold articles that the answer cites;
- ``gold_in_sources``: a gold article was among the sources the model saw (separates retrieval
  misses from generation misses);
- ``refused``: the answer is the refusal sentence.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from eval.answer_metrics import contains_answer, exact_match, token_f1
from eval.questions import EvalQuestion
from eval.retrieval_metrics import bootstrap_ci, percentile
from rag.core.answer import Answer
from rag.pipelines.ask import AskError, AskOptions, RagPipeline

ANSWER_METRICS = (
    "exact_match",
    "token_f1",
    "contains_answer",
    "citation_precision",
    "citation_recall",
    "gold_in_sources",
    "refused",
)


@dataclass
class AnswerRecord:
    """One question's outcome: the Answer, or the German error the pipeline gave instead."""

    question: EvalQuestion
    answer: Answer | None
    error: str | None
    seconds: float


def score_answer(question: EvalQuestion, answer: Answer) -> dict[str, float | None]:
    """The answer's scores; a refusal scores 0 on the answer metrics even where the sentence it
    quotes as the nearest holds the reference (it says that it has no answer). Its citation, the
    quoted source, is scored like any other."""
    gold = set(question.gold_ids)
    cited = [c.article_id for c in answer.citations]
    reference = question.answer
    text = "" if answer.refused else answer.text
    return {
        "exact_match": exact_match(text, reference) if reference else None,
        "token_f1": token_f1(text, reference) if reference else None,
        "contains_answer": contains_answer(text, reference) if reference else None,
        "citation_precision": sum(a in gold for a in cited) / len(cited) if cited else None,
        "citation_recall": len(gold & set(cited)) / len(gold),
        "gold_in_sources": float(bool(gold & {s.article_id for s in answer.sources})),
        "refused": float(answer.refused),
    }


def run_answers(
    questions: Sequence[EvalQuestion],
    pipeline: RagPipeline,
    options: AskOptions,
    on_question: Callable[[], None] | None = None,
    exclude: Callable[[EvalQuestion], tuple[str, ...]] | None = None,
) -> list[AnswerRecord]:
    """Ask every question; a question the pipeline rejects is recorded with its message.

    ``exclude`` names, per question, articles its search leaves out (the no-answer twins)."""
    records = []
    for q in questions:
        started = time.perf_counter()
        excluded = exclude(q) if exclude else ()
        per_question = options.model_copy(
            update={"date_from": q.date_from, "date_to": q.date_to, "exclude_articles": excluded}
        )
        try:
            answer, error = pipeline.ask(q.question, per_question), None
        except AskError as exc:
            answer, error = None, str(exc)
        records.append(AnswerRecord(q, answer, error, time.perf_counter() - started))
        if on_question:
            on_question()
    return records


@dataclass
class Aggregate:
    mean: float
    ci95: tuple[float, float]
    n: int


def aggregate(rows: Sequence[dict[str, float | None]], metrics: Sequence[str]) -> dict[str, Aggregate]:
    """Mean, bootstrap interval and count of every metric over the questions that define it."""
    result = {}
    for metric in metrics:
        values = [float(v) for row in rows if (v := row.get(metric)) is not None]
        if values:
            result[metric] = Aggregate(sum(values) / len(values), bootstrap_ci(values), len(values))
    return result


def latency_summary(records: Sequence[AnswerRecord]) -> dict[str, float]:
    """p50/p95 seconds of the whole answer and of the first token."""
    total = [r.seconds for r in records if r.answer is not None]
    first = [t for r in records if r.answer is not None and (t := r.answer.timings.get("first_token"))]
    return {
        "total_p50": percentile(total, 50),
        "total_p95": percentile(total, 95),
        "first_token_p50": percentile(first, 50),
        "first_token_p95": percentile(first, 95),
    }
