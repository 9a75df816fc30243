"""What the reader adds to the answer evaluation: reader-only figures, misses by stage, thresholds.

Why three views: a wrong answer can come from retrieval (no gold article among the sources), from
the reader (the gold was there, the span was not the answer) or from the generator (the evidence
held the answer, the written text lost it). Reader-only figures read each question against its gold
article's own chunks, so they show the reader apart from retrieval. The threshold sweep replays the
refusal rule on the recorded confidences (the evaluation runs with the threshold at 0 for it):
answers contained, wrongly refused (the gold was among the sources) and rightly refused (it was not).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from eval.answer_eval import AnswerRecord
from eval.answer_metrics import contains_answer, exact_match, token_f1
from eval.questions import EvalQuestion
from rag.reader.reader import SpanReader

READER_METRICS = ("reader_exact_match", "reader_token_f1", "reader_contains")
Miss = Literal["right", "retrieval", "reader", "generator"]
THRESHOLDS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)


def reader_only(
    reader: SpanReader, questions: Sequence[EvalQuestion], passages: Mapping[str, list[str]]
) -> dict[str, dict[str, float | None]]:
    """Per question with a reference: the reader's best span over the gold articles' chunks, scored."""
    rows: dict[str, dict[str, float | None]] = {}
    for q in questions:
        texts = [text for gid in q.gold_ids for text in passages.get(gid, []) if text]
        if not q.answer or not texts:
            continue
        found = reader.read(q.question, texts)
        span = found[0].text if found else ""
        rows[q.qid] = {
            "reader_exact_match": exact_match(span, q.answer),
            "reader_token_f1": token_f1(span, q.answer),
            "reader_contains": contains_answer(span, q.answer),
        }
    return rows


def miss_kind(record: AnswerRecord) -> Miss | None:
    """Which stage lost the answer; None when the question has no reference or no answer."""
    q, answer = record.question, record.answer
    if not q.answer or answer is None:
        return None
    if contains_answer(answer.text, q.answer):
        return "right"
    if not set(q.gold_ids) & {s.article_id for s in answer.sources}:
        return "retrieval"
    if answer.evidence and contains_answer(answer.evidence[0].sentence, q.answer):
        return "generator" if contains_answer(answer.evidence[0].span, q.answer) else "reader"
    return "reader"


def misses(records: Sequence[AnswerRecord]) -> Counter[str]:
    return Counter(kind for r in records if (kind := miss_kind(r)) is not None)


@dataclass(frozen=True)
class ThresholdRow:
    threshold: float
    contained: float  # share of questions answered (not refused) with the reference in the answer
    wrong_refusals: float  # share of questions with the gold among the sources that are refused
    right_refusals: float  # share of questions without the gold among the sources that are refused
    n_gold: int
    n_no_gold: int


def threshold_sweep(
    records: Sequence[AnswerRecord], thresholds: Sequence[float] = THRESHOLDS
) -> list[ThresholdRow]:
    """The refusal rule replayed at each threshold on answers recorded with the threshold at 0."""
    rated = [
        r for r in records if r.answer is not None and r.answer.confidence is not None and r.question.answer
    ]
    rows = []
    for t in thresholds:
        contained = gold = no_gold = wrong = right = 0
        for r in rated:
            assert r.answer is not None and r.answer.confidence is not None and r.question.answer
            refused = r.answer.refused or r.answer.confidence < t
            has_gold = bool(set(r.question.gold_ids) & {s.article_id for s in r.answer.sources})
            gold += has_gold
            no_gold += not has_gold
            wrong += refused and has_gold
            right += refused and not has_gold
            contained += not refused and bool(contains_answer(r.answer.text, r.question.answer))
        rows.append(
            ThresholdRow(
                t,
                contained / len(rated) if rated else 0.0,
                wrong / gold if gold else 0.0,
                right / no_gold if no_gold else 0.0,
                gold,
                no_gold,
            )
        )
    return rows


def reader_report_lines(records: Sequence[AnswerRecord], sweep: Sequence[ThresholdRow]) -> list[str]:
    """The report's reader sections: misses by stage and the threshold table."""
    counted = misses(records)
    total = sum(counted.values())
    lines = ["## Misses by stage", "", "| outcome | questions | share |", "|---|---|---|"]
    for kind in ("right", "retrieval", "reader", "generator"):
        lines.append(
            f"| {kind} | {counted.get(kind, 0)} | {counted.get(kind, 0) / total if total else 0:.3f} |"
        )
    lines += [
        "",
        "retrieval: no gold article among the sources; reader: the gold was there but the evidence span "
        "was not the answer (or the reader refused); generator: the span held the answer, the text lost it.",
        "",
    ]
    if sweep:
        lines += [
            "## Refusal threshold (replayed on the recorded confidences)",
            "",
            "| threshold | answer contained | wrong refusals | right refusals |",
            "|---|---|---|---|",
            *(
                f"| {r.threshold:.2f} | {r.contained:.3f} | {r.wrong_refusals:.3f} (of {r.n_gold}) "
                f"| {r.right_refusals:.3f} (of {r.n_no_gold}) |"
                for r in sweep
            ),
            "",
        ]
    return lines
