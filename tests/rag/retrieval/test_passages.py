"""Source passages shortened to the question's sentences, in order, gaps marked."""

from __future__ import annotations

from rag.retrieval.passages import focus_passage

TEXT = (
    "Die Universität wurde 1386 gegründet. Sie liegt in Heidelberg. Heute studieren dort 30.000 "
    "Menschen. Die Bibliothek ist berühmt. Der Campus wächst."
)


def test_short_enough_or_unlimited_passages_stay_whole() -> None:
    assert focus_passage(TEXT, "Wann?", len(TEXT)) == TEXT
    assert focus_passage(TEXT, "Wann?", None) == TEXT


def test_the_question_s_sentences_are_kept_in_order_with_gaps_marked() -> None:
    shortened = focus_passage(TEXT, "Wie viele Menschen studieren heute in Heidelberg?", 80)
    assert shortened == "… Sie liegt in Heidelberg. Heute studieren dort 30.000 Menschen. …"
    assert len(shortened) <= 80
    # 30.000 does not end a sentence; the first sentence fills the budget when nothing else matches
    assert focus_passage(TEXT, "Wann wurde die Universität gegründet?", 45) == (
        "Die Universität wurde 1386 gegründet. …"
    )


def test_a_single_overlong_sentence_is_cut() -> None:
    assert focus_passage("A" * 200, "x", 50) == "A" * 49 + "…"
