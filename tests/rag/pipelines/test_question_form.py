"""Which questions a span answers and which get the quoted statement (yes/no questions)."""

from __future__ import annotations

import pytest

from rag.pipelines.question_form import is_yes_no_question


@pytest.mark.parametrize(
    "question",
    [
        "Darf die Deutsche Post per Smartphone gekaufte Briefmarken nach zwei Wochen verfallen lassen?",
        "Hat Microsoft ein Skript gegen den Exchange-Fehler veröffentlicht?",
        "Umfasst der neue Vertrag Video-on-Demand und High Definition?",
        "Wurde Norwegen 1972 Mitglied der Europäischen Union?",
        "Gibt es schon ein Update für Log4j?",
        "Did Microsoft publish a fix?",
    ],
)
def test_questions_without_a_question_word_are_yes_no(question: str) -> None:
    assert is_yes_no_question(question)


@pytest.mark.parametrize(
    "question",
    [
        "Was war Anfang 2022 mit Exchange los?",
        "Um wie viele Jahre hat KI Harrison Ford verjüngt?",
        "Mit welchem KI-Trick versuchten Ermittler, einen Mordfall aufzuklären?",
        "Der Verlust welcher Region führte zum Krieg?",  # the question word need not come first
        "Das Wievielfache mussten andere Saaten für Öl bezahlen?",
        "Wofür steht DNS4EU?",
        "Ist der Fokus auf spirituelle Betreuung im Hinduismus hoch oder gering?",  # the span picks one
        "Nennen Sie ein Luxussegment von Toyota.",
        "What stopped mail delivery in Exchange at the start of 2022?",
    ],
)
def test_questions_a_span_can_answer_are_not_yes_no(question: str) -> None:
    assert not is_yes_no_question(question)
