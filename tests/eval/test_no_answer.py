"""No-answer twins: which articles a question's twin leaves out, and how a twin is scored."""

from __future__ import annotations

from eval.answer_eval import AnswerRecord
from eval.no_answer import gold_families, no_answer_scores
from eval.questions import EvalQuestion
from rag.core.answer import Answer, AppliedFilters


def _question(qid: str, gold: str) -> EvalQuestion:
    return EvalQuestion(qid=qid, question="Wer?", gold_ids=(gold,), answer="x")


def test_a_twin_leaves_out_every_paragraph_of_its_gold_page_and_only_the_gold_article_elsewhere() -> None:
    known = ["Warschau#0", "Warschau#1", "Warschau#12", "Warschau-Pakt#0", "6315605", "6315606"]
    families = gold_families([_question("x", "Warschau#1"), _question("h", "6315605")], known)
    assert families == {"x": ("Warschau#0", "Warschau#1", "Warschau#12"), "h": ("6315605",)}


def test_a_twin_is_right_when_refused_or_rejected() -> None:
    def record(qid: str, refused: bool | None) -> AnswerRecord:
        answer = (
            None
            if refused is None
            else Answer(
                question="Wer?", text="t", sources=[], citations=[], filters=AppliedFilters(), refused=refused
            )
        )
        return AnswerRecord(_question(qid, "g"), answer, None if answer else "keine Artikel gefunden", 0.1)

    scores = no_answer_scores([record("a", True), record("b", False), record("c", None)])
    assert scores == {
        "a": {"no_answer_refused": 1.0},
        "b": {"no_answer_refused": 0.0},
        "c": {"no_answer_refused": 1.0},
    }
