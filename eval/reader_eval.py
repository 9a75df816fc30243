"""What the reader adds to the answer evaluation: reader-only figures, misses by stage, thresholds.

Why three views: a wrong answer can come from retrieval (no gold article among the sources), from
the reader (the gold was there, the span was not the answer) or from the generator (the evidence
held the answer, the written text lost it). Reader-only figures read each question against its gold
article's own chunks, so they show the reader apart from retrieval. The threshold sweep replays the
refusal rule on the recorded confidences, per kind of source (headline or passage: each reader's
confidence is calibrated on its own kind and has its own threshold): answers contained, wrongly
refused (the gold was among the sources), rightly refused (it was not) and, with the no-answer
twins (``eval/no_answer.py``), twins refused.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from eval.answer_eval import AnswerRecord
from eval.answer_metrics import contains_answer, exact_match, token_f1
from eval.questions import EvalQuestion
from rag.core.answer import Answer
from rag.reader.model import HEADLINE_CHARS
from rag.reader.reader import SpanReader

READER_METRICS = ("reader_exact_match", "reader_token_f1", "reader_contains")
Miss = Literal["right", "retrieval", "reader", "generator"]
THRESHOLDS = (0.0, 0.05, 0.1, 0.13, 0.15, 0.18, 0.2, 0.25, 0.3, 0.4, 0.5, 0.7)


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
    if not answer.refused and contains_answer(answer.text, q.answer):
        return "right"
    if not set(q.gold_ids) & {s.article_id for s in answer.sources}:
        return "retrieval"
    if answer.evidence and contains_answer(answer.evidence[0].sentence, q.answer):
        return "generator" if contains_answer(answer.evidence[0].span, q.answer) else "reader"
    return "reader"


def misses(records: Sequence[AnswerRecord]) -> Counter[str]:
    return Counter(kind for r in records if (kind := miss_kind(r)) is not None)


SourceKind = Literal["headline", "passage"]


def answer_kind(answer: Answer) -> SourceKind | None:
    """Whose confidence the answer carries: the headline reader's or the passage reader's.

    The evidence's source decides; a refusal has no evidence but cites the source of the sentence it
    quotes as nearest (a source shown to the model is at least ``HEISE_RAG_SOURCE_CHARS`` long, so
    a passage stays longer than a headline)."""
    if answer.evidence:
        chars = answer.evidence[0].passage_chars
    elif answer.citations:
        chars = len(answer.citations[0].passage)
    else:
        return None
    return "passage" if chars > HEADLINE_CHARS else "headline"


@dataclass(frozen=True)
class ThresholdRow:
    threshold: float
    contained: float  # share of questions answered (not refused) with the reference in the answer
    wrong_refusals: float  # share of questions with the gold among the sources that are refused
    right_refusals: float  # share of questions without the gold among the sources that are refused
    n_gold: int
    n_no_gold: int
    no_answer_refusals: float | None = None  # share of no-answer twins refused (None: no twins)
    n_no_answer: int = 0


def _refused(answer: Answer, threshold: float) -> bool:
    assert answer.confidence is not None
    return answer.refused or answer.confidence < threshold


def _rated(records: Sequence[AnswerRecord], kind: SourceKind | None) -> list[AnswerRecord]:
    return [
        r
        for r in records
        if r.answer is not None
        and r.answer.confidence is not None
        and (kind is None or answer_kind(r.answer) == kind)
    ]


def threshold_sweep(
    records: Sequence[AnswerRecord],
    thresholds: Sequence[float] = THRESHOLDS,
    twins: Sequence[AnswerRecord] = (),
    kind: SourceKind | None = None,
) -> list[ThresholdRow]:
    """The refusal rule replayed at each threshold on the recorded answers (of one source kind).

    Answers the configured thresholds already refused stay refused in every row, so rows below them
    need a run with the thresholds at 0."""
    rated = [r for r in _rated(records, kind) if r.question.answer]
    rated_twins = _rated(twins, kind)
    rows = []
    for t in thresholds:
        contained = gold = no_gold = wrong = right = 0
        for r in rated:
            assert r.answer is not None and r.question.answer
            refused = _refused(r.answer, t)
            has_gold = bool(set(r.question.gold_ids) & {s.article_id for s in r.answer.sources})
            gold += has_gold
            no_gold += not has_gold
            wrong += refused and has_gold
            right += refused and not has_gold
            contained += not refused and bool(contains_answer(r.answer.text, r.question.answer))
        twin_refused = sum(_refused(r.answer, t) for r in rated_twins if r.answer is not None)
        rows.append(
            ThresholdRow(
                t,
                contained / len(rated) if rated else 0.0,
                wrong / gold if gold else 0.0,
                right / no_gold if no_gold else 0.0,
                gold,
                no_gold,
                twin_refused / len(rated_twins) if rated_twins else None,
                len(rated_twins),
            )
        )
    return rows


def kind_sweeps(
    records: Sequence[AnswerRecord], twins: Sequence[AnswerRecord] = ()
) -> dict[SourceKind, list[ThresholdRow]]:
    """One sweep per source kind that answered any question: each kind has its own threshold."""
    kinds: tuple[SourceKind, ...] = ("headline", "passage")
    return {
        kind: threshold_sweep(records, twins=twins, kind=kind)
        for kind in kinds
        if any(r.answer is not None and answer_kind(r.answer) == kind for r in [*records, *twins])
    }


def reader_report_lines(
    records: Sequence[AnswerRecord], sweeps: Mapping[SourceKind, Sequence[ThresholdRow]]
) -> list[str]:
    """The report's reader sections: misses by stage and a threshold table per source kind."""
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
    for kind, sweep in sweeps.items():
        with_twins = any(r.no_answer_refusals is not None for r in sweep)
        lines += [
            f"## Refusal threshold, answers from a {kind} (replayed on the recorded confidences)",
            "",
            "| threshold | answer contained | wrong refusals | right refusals |"
            + (" no-answer twins refused |" if with_twins else ""),
            "|---|---|---|---|" + ("---|" if with_twins else ""),
            *(
                f"| {r.threshold:.2f} | {r.contained:.3f} | {r.wrong_refusals:.3f} (of {r.n_gold}) "
                f"| {r.right_refusals:.3f} (of {r.n_no_gold}) |"
                + (f" {r.no_answer_refusals or 0.0:.3f} (of {r.n_no_answer}) |" if with_twins else "")
                for r in sweep
            ),
            "",
        ]
    if sweeps:
        lines += [
            "Wrong refusals: of the questions with the gold among the sources; right refusals: of those "
            "without it; no-answer twins: the questions asked again without their gold articles. "
            "Answers the configured thresholds refused stay refused in every row (run with "
            "`HEISE_RAG_READER_MIN_CONFIDENCE=0 HEISE_RAG_READER_PASSAGE_MIN_CONFIDENCE=0` for the rows "
            "below them).",
            "",
        ]
    return lines
