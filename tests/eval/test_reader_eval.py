"""Misses by stage and the refusal-threshold replay, on hand-made answer records."""

from __future__ import annotations

from eval.answer_eval import AnswerRecord
from eval.questions import EvalQuestion
from eval.reader_eval import answer_kind, kind_sweeps, miss_kind, misses, reader_report_lines, threshold_sweep
from rag.core.answer import Answer, AppliedFilters, Evidence, SourceRef
from rag.core.prompting import REFUSAL


def _source(article_id: str) -> SourceRef:
    return SourceRef(number=1, article_id=article_id, source="heise", title="t", score=1.0, passage="p")


def _record(
    text: str, source_id: str, span: str, sentence: str, confidence: float, passage_chars: int = 80
) -> AnswerRecord:
    question = EvalQuestion(qid=text, question="Welche Bank?", gold_ids=("g",), answer="Targobank")
    evidence = [
        Evidence(
            source=1,
            article_id=source_id,
            span=span,
            sentence=sentence,
            start=0,
            end=len(span),
            confidence=confidence,
            passage_chars=passage_chars,
        )
    ]
    answer = Answer(
        question="Welche Bank?",
        text=text,
        sources=[_source(source_id)],
        citations=[],
        filters=AppliedFilters(),
        refused=text == REFUSAL,
        evidence=evidence if text != REFUSAL else [],
        confidence=confidence,
    )
    return AnswerRecord(question, answer, None, 0.1)


RIGHT = _record("Targobank [1].", "g", "Targobank", "Targobank blockiert Konten", 0.9)
RETRIEVAL = _record("Sparkasse [1].", "x", "Sparkasse", "Sparkasse", 0.8)
READER = _record("Cyberangriff [1].", "g", "Cyberangriff", "Cyberangriff: Targobank blockiert Konten", 0.2)
GENERATOR = _record("Eine Bank [1].", "g", "Targobank", "Targobank blockiert Konten", 0.7)


def test_each_miss_is_charged_to_the_stage_that_lost_the_answer() -> None:
    assert [miss_kind(r) for r in (RIGHT, RETRIEVAL, READER, GENERATOR)] == [
        "right",
        "retrieval",
        "reader",
        "generator",
    ]
    assert misses([RIGHT, RIGHT, READER]) == {"right": 2, "reader": 1}


def test_the_threshold_replay_counts_contained_answers_and_both_kinds_of_refusal() -> None:
    zero, half = threshold_sweep([RIGHT, RETRIEVAL, READER], thresholds=(0.0, 0.5))
    assert (zero.contained, zero.wrong_refusals, zero.right_refusals) == (1 / 3, 0.0, 0.0)
    # at 0.5 the unsure reader miss (gold among the sources) is refused: a wrong refusal
    assert (half.contained, half.wrong_refusals, half.right_refusals) == (1 / 3, 0.5, 0.0)
    assert (half.n_gold, half.n_no_gold) == (2, 1)
    lines = reader_report_lines([RIGHT, READER], {"headline": [zero, half]})
    assert "| right | 1 | 0.500 |" in lines and any(line.startswith("| 0.50 |") for line in lines)


def test_each_source_kind_is_swept_on_its_own_with_the_no_answer_twins() -> None:
    """A passage's confidence and a headline's are calibrated apart, so each kind has its own table;
    a twin (asked without its gold) counts as rightly refused when refused."""
    passage_right = _record("Targobank [1].", "g", "Targobank", "Die Targobank blockiert Konten.", 0.6, 900)
    twin_unsure = _record("Sparkasse [1].", "x", "Sparkasse", "Sparkasse", 0.05, 900)
    twin_sure = _record("Sparkasse [1].", "x", "Sparkasse", "Sparkasse", 0.5, 900)
    assert [answer_kind(r.answer) for r in (RIGHT, passage_right)] == ["headline", "passage"]  # type: ignore[arg-type]
    sweeps = kind_sweeps([RIGHT, READER, passage_right], [twin_unsure, twin_sure])
    assert set(sweeps) == {"headline", "passage"}
    by_threshold = {row.threshold: row for row in sweeps["passage"]}
    assert by_threshold[0.0].no_answer_refusals == 0.0 and by_threshold[0.1].no_answer_refusals == 0.5
    assert by_threshold[0.5].contained == 1.0 and by_threshold[0.7].contained == 0.0
    assert all(row.no_answer_refusals is None for row in sweeps["headline"])  # no headline twins
    lines = reader_report_lines([RIGHT, passage_right], sweeps)
    assert any("answers from a passage" in line for line in lines)
    assert any(line.startswith("| 0.10 |") and line.endswith("0.500 (of 2) |") for line in lines)
