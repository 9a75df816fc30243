"""Answer metrics, aggregation, sampling and question-set problems against hand-computed cases."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from eval.answer_eval import aggregate, score_answer
from eval.gold import keep_known_gold
from eval.questions import EvalQuestion, QuestionSetError, load_questions, sample
from eval.ragas_scores import RagasSample, non_llm_scores
from rag.core.answer import Answer, AppliedFilters, SourceRef


def source(number: int, article_id: str) -> SourceRef:
    return SourceRef(number=number, article_id=article_id, source="heise", title="t", score=1.0, passage="p")


def answer(text: str, sources: list[SourceRef], cited: list[int], refused: bool = False) -> Answer:
    return Answer(
        question="?",
        text=text,
        sources=sources,
        citations=[s for s in sources if s.number in cited],
        filters=AppliedFilters(),
        refused=refused,
    )


def test_score_answer_by_hand() -> None:
    q = EvalQuestion(qid="1", question="Wer?", gold_ids=("a", "b"), answer="die Deutsche Telekom")
    sources = [source(1, "a"), source(2, "x"), source(3, "y")]
    scores = score_answer(q, answer("Deutsche Telekom [1][2].", sources, cited=[1, 2]))
    assert scores["exact_match"] == 1.0  # article and citation markers are normalized away
    assert scores["token_f1"] == 1.0 and scores["contains_answer"] == 1.0
    assert scores["citation_precision"] == 0.5  # [1] is gold, [2] is not
    assert scores["citation_recall"] == 0.5  # a cited, b not
    assert scores["gold_in_sources"] == 1.0 and scores["refused"] == 0.0

    partial = score_answer(q, answer("Telekom und Vodafone", sources, cited=[]))
    assert partial["exact_match"] == 0.0
    assert partial["token_f1"] == pytest.approx(2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2))
    assert partial["citation_precision"] is None and partial["citation_recall"] == 0.0

    no_reference = EvalQuestion(qid="2", question="Was?", gold_ids=("z",))
    refused = score_answer(no_reference, answer("Dazu finde ich nichts.", sources, [], refused=True))
    assert refused["exact_match"] is None and refused["gold_in_sources"] == 0.0 and refused["refused"] == 1.0


def test_aggregate_counts_only_defined_values() -> None:
    rows = [{"m": 1.0, "p": None}, {"m": 0.0, "p": 0.5}, {"m": 1.0, "p": None}]
    result = aggregate(rows, ["m", "p", "missing"])
    assert result["m"].mean == pytest.approx(2 / 3) and result["m"].n == 3
    assert result["p"].mean == 0.5 and result["p"].n == 1 and result["p"].ci95 == (0.5, 0.5)
    assert "missing" not in result


def test_sample_is_seeded_and_keeps_file_order() -> None:
    questions = [EvalQuestion(qid=str(i), question="?", gold_ids=("g",)) for i in range(50)]
    first, again = sample(questions, 10, seed=3), sample(questions, 10, seed=3)
    assert first == again and len(first) == 10
    assert [int(q.qid) for q in first] == sorted(int(q.qid) for q in first)
    assert sample(questions, 10, seed=4) != first
    assert sample(questions, None, 0) == questions and sample(questions, 99, 0) == questions


def test_question_file_problems_are_reported_and_the_rest_kept(question_file: Path, tmp_path: Path) -> None:
    loaded = load_questions(question_file)
    assert [q.qid for q in loaded.questions] == ["q1", "q2", "q3"]
    assert len(loaded.problems) == 1 and loaded.problems[0].startswith(f"{question_file}:2:")
    duplicate = tmp_path / "dup.jsonl"
    duplicate.write_text(
        '{"qid": 1, "question": "a", "gold_ids": [1]}\n{"qid": "1", "question": "b", "gold_ids": [2]}\n'
    )
    assert "kommt doppelt vor" in load_questions(duplicate).problems[0]
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(QuestionSetError, match="keine brauchbaren Fragen"):
        load_questions(empty)
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text("not json\n")
    with pytest.raises(QuestionSetError, match="1 unbrauchbare Zeilen"):
        load_questions(garbage)


def test_unknown_gold_ids_are_reported() -> None:
    questions = [
        EvalQuestion(qid="ok", question="?", gold_ids=("1",), date_from=date(2022, 1, 1)),
        EvalQuestion(qid="part", question="?", gold_ids=("1", "9")),
        EvalQuestion(qid="none", question="?", gold_ids=("9",)),
    ]
    kept, problems = keep_known_gold(questions, {"1", "2"})
    assert [(q.qid, q.gold_ids) for q in kept] == [("ok", ("1",)), ("part", ("1",))]
    assert problems == [
        "part: gold ids not in the collection, ignored: 9",
        "none: no gold article in the collection (9)",
    ]


def test_ragas_non_llm_metrics_by_hand() -> None:
    gold = "Die Telekom baut Glasfaser aus."
    samples = [
        RagasSample("a", "Wer?", "abd", [gold, "Apple zeigt ein neues iPhone."], [gold], "abc"),
        RagasSample("b", "Was?", "x", ["Apple zeigt ein neues iPhone.", gold], [gold], None),
    ]
    scores = non_llm_scores(samples)
    # a: the gold passage is retrieved first -> average precision 1; recall 1; Levenshtein 1 - 1/3
    assert scores["a"]["non_llm_context_precision_with_reference"] == pytest.approx(1.0)
    assert scores["a"]["non_llm_context_recall"] == 1.0
    assert scores["a"]["non_llm_string_similarity"] == pytest.approx(2 / 3)
    # b: the gold passage comes second -> precision@2 = 1/2; no reference answer -> no similarity
    assert scores["b"]["non_llm_context_precision_with_reference"] == pytest.approx(0.5)
    assert "non_llm_string_similarity" not in scores["b"]


def test_a_refusal_that_quotes_the_reference_as_nearest_is_not_an_answer() -> None:
    q = EvalQuestion(qid="1", question="Wer?", gold_ids=("a",), answer="Deutsche Telekom")
    text = (
        "Dazu finde ich in den Quellen keine Antwort. Am nächsten kommt „Die Deutsche Telekom baut aus“ [1]."
    )
    scores = score_answer(q, answer(text, [source(1, "a")], cited=[1], refused=True))
    assert scores["exact_match"] == scores["token_f1"] == scores["contains_answer"] == 0.0
    assert scores["refused"] == 1.0 and scores["citation_precision"] == 1.0  # the quote's source counts
