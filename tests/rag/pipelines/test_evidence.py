"""Evidence: the span's sentence, disagreeing sources, the extractive text, the generator check."""

from __future__ import annotations

from datetime import UTC, datetime

from rag.core.answer import SourceRef
from rag.pipelines.evidence import (
    choose_evidence,
    extractive_text,
    keeps_evidence,
    min_confidence_for,
    order_readings,
    sentence_around,
    typed_readings,
    unanswered_text,
    unrelated_headline,
)
from rag.reader.reader import Reading


def _source(number: int, day: int) -> SourceRef:
    return SourceRef(
        number=number,
        article_id=f"a{number}",
        source="heise",
        title=f"Titel {number}",
        published_at=datetime(2023, 3, day, tzinfo=UTC),
        score=1.0,
        passage="",
    )


SOURCES = [_source(1, 5), _source(2, 20)]
PASSAGES = [
    "Sony stellt die Konsole vor. Sie kostet 450 Euro. Der Verkauf beginnt im Mai.",
    "Der Preis steigt: Die Konsole kostet jetzt 500 Euro.",
]


def _reading(passage: int, text: str, confidence: float) -> Reading:
    start = PASSAGES[passage].index(text)
    return Reading(passage, start, start + len(text), text, margin=confidence * 10, confidence=confidence)


def test_the_answering_reading_follows_the_reader_choice() -> None:
    first = Reading(0, 0, 4, "Sony", margin=-1.0, confidence=0.1)  # source [1], reader prefers no answer
    second = Reading(1, 0, 9, "Der Preis", margin=2.0, confidence=0.6)
    third = Reading(2, 0, 3, "Mai", margin=3.0, confidence=0.7)
    readings = [third, second, first]  # as the reader returns them: best margin first
    assert order_readings(readings, "margin") == [third, second, first]
    assert order_readings(readings, "first") == [first, third, second]
    assert order_readings(readings, "rank") == [second, third, first]
    assert order_readings([third], "first") == [third]  # no span in source [1]: the best margin
    unsure = Reading(2, 0, 3, "Mai", margin=-0.5, confidence=0.2)  # better margin than [1]'s, still < 0
    # no source above 0: the best-ranked source with a span, not the best margin
    assert order_readings([unsure, first], "rank") == [first, unsure]


def test_a_conflict_is_still_found_when_source_one_answers() -> None:
    readings = [_reading(1, "500 Euro", 0.9), _reading(0, "450 Euro", 0.8)]
    evidence = choose_evidence(readings, SOURCES, PASSAGES, 0.3, "first")
    assert [e.source for e in evidence] == [1, 2]


def test_the_sentence_around_a_span_and_the_span_offsets_inside_it() -> None:
    start = PASSAGES[0].index("450 Euro")
    sentence, s, e = sentence_around(PASSAGES[0], start, start + len("450 Euro"))
    assert sentence == "Sie kostet 450 Euro."
    assert sentence[s:e] == "450 Euro"


def test_one_confident_reading_is_the_evidence_and_the_extractive_answer_cites_it() -> None:
    evidence = choose_evidence([_reading(0, "450 Euro", 0.9)], SOURCES, PASSAGES, 0.3)
    assert [(e.source, e.span, e.sentence) for e in evidence] == [(1, "450 Euro", "Sie kostet 450 Euro.")]
    assert extractive_text(evidence, SOURCES, "Wie viel kostet sie?") == "450 Euro [1]."
    # what the confidence was calibrated from travels with it (`heise-rag train reader-calibration`)
    assert (evidence[0].margin, evidence[0].passage_chars) == (9.0, len(PASSAGES[0]))


def test_two_sources_with_different_values_are_both_named_with_their_dates() -> None:
    readings = [_reading(0, "450 Euro", 0.9), _reading(1, "500 Euro", 0.8)]
    evidence = choose_evidence(readings, SOURCES, PASSAGES, 0.3)
    assert [e.source for e in evidence] == [1, 2]
    text = extractive_text(evidence, SOURCES, "Wie viel kostet sie?")
    assert "450 Euro [1] (05.03.2023)" in text and "500 Euro [2] (20.03.2023)" in text


def test_undated_sources_do_not_conflict() -> None:
    undated = [s.model_copy(update={"published_at": None}) for s in SOURCES]
    readings = [_reading(0, "450 Euro", 0.9), _reading(1, "500 Euro", 0.8)]
    assert [e.span for e in choose_evidence(readings, undated, PASSAGES, 0.3)] == ["450 Euro"]


def test_an_unsure_second_value_or_the_same_value_is_not_a_conflict() -> None:
    unsure = [_reading(0, "450 Euro", 0.9), _reading(1, "500 Euro", 0.1)]
    assert len(choose_evidence(unsure, SOURCES, PASSAGES, 0.3)) == 1
    same = [_reading(0, "450 Euro", 0.9), _reading(0, "450 Euro", 0.8)]
    assert len(choose_evidence(same, SOURCES, PASSAGES, 0.3)) == 1


def test_a_generated_answer_must_keep_the_span_and_cite_its_source() -> None:
    (evidence,) = choose_evidence([_reading(0, "450 Euro", 0.9)], SOURCES, PASSAGES, 0.3)
    assert keeps_evidence("Die Konsole kostet 450 Euro [1].", evidence)
    assert not keeps_evidence("Die Konsole kostet 499 Euro [1].", evidence)
    assert not keeps_evidence("Die Konsole kostet 450 Euro [2].", evidence)
    assert not keeps_evidence("Die Konsole kostet 450 Euro [1][2].", evidence)  # [2] lacks the span
    assert not keeps_evidence("Die Konsole kostet 1450 Euro [1].", evidence)
    assert keeps_evidence("Laut [1] kostet die Konsole „450 Euro“.", evidence)


def test_a_span_inside_a_citation_marker_is_not_kept() -> None:
    (evidence,) = choose_evidence([_reading(0, "450", 0.9)], SOURCES, PASSAGES, 0.3)
    assert keeps_evidence("Sie kostet 450 Euro [1].", evidence)
    # what the answer model once wrote for the span 31: markers only, up to [31]
    assert not keeps_evidence("[1] [2] [3] [450]", evidence)
    assert not keeps_evidence("Im Jahr 1450 [1].", evidence)


def test_a_yes_no_question_gets_the_quoted_sentence_instead_of_a_bare_span() -> None:
    evidence = choose_evidence([_reading(0, "450 Euro", 0.9)], SOURCES, PASSAGES, 0.3)
    text = extractive_text(evidence, SOURCES, "Kostet sie mehr als 400 Euro?")
    assert text == "Die Quelle sagt dazu: „Sie kostet 450 Euro.“ [1]."


def test_questions_for_what_happened_and_for_a_reason_get_the_sentence() -> None:
    evidence = choose_evidence([_reading(0, "450 Euro", 0.9)], SOURCES, PASSAGES, 0.3)
    text = extractive_text(evidence, SOURCES, "Was war mit der Konsole los?")
    assert text == "Die Quelle berichtet: „Sie kostet 450 Euro.“ [1]."
    assert extractive_text(evidence, SOURCES, "Was kostet die Konsole?") == "450 Euro [1]."
    why = extractive_text(evidence, SOURCES, "Warum ist die Konsole so teuer?")
    assert why == "Die Quelle sagt dazu: „Sie kostet 450 Euro.“ [1]."


def test_a_number_or_time_question_is_answered_from_a_reading_that_names_one() -> None:
    fitting = _reading(1, "500 Euro", 0.3)
    unfit = Reading(0, 0, 4, "Sony", margin=1.0, confidence=0.6, fits=False)
    price, start, who = "Wie viel kostet die Konsole?", "Wann beginnt der Verkauf?", "Wer stellt sie vor?"
    # another source names a number: the answer comes from it, although [1] ranks and reads better
    assert typed_readings(price, [unfit, fitting]) == ([fitting], None)
    # none names one: all stay (the nearest sentence is quoted) and the missing value is named
    assert typed_readings(price, [unfit]) == ([unfit], "eine Zahl")
    assert typed_readings(start, [unfit]) == ([unfit], "einen Zeitpunkt")
    # a question for neither keeps every reading
    assert typed_readings(who, [unfit, fitting]) == ([unfit, fitting], None)


def test_each_kind_of_source_has_its_own_refusal_threshold() -> None:
    """The headline reader's confidence hardly separates answers from unanswerable questions, the
    passage reader's does: a passage's evidence is held to the passage threshold."""
    (evidence,) = choose_evidence([_reading(0, "450 Euro", 0.15)], SOURCES, PASSAGES, 0.0)
    headline = evidence.model_copy(update={"passage_chars": 76})
    passage = evidence.model_copy(update={"passage_chars": 900})
    assert min_confidence_for(headline, 0.13, 0.18) == 0.13
    assert min_confidence_for(passage, 0.13, 0.18) == 0.18
    assert evidence.confidence >= min_confidence_for(headline, 0.13, 0.18)
    assert evidence.confidence < min_confidence_for(passage, 0.13, 0.18)


def test_a_refusal_quotes_the_nearest_sentence_and_says_why() -> None:
    (evidence,) = choose_evidence([_reading(0, "450 Euro", 0.05)], SOURCES, PASSAGES, 0.0)
    unsure = unanswered_text(evidence)
    assert (
        unsure == "Dazu finde ich in den Quellen keine Antwort. Am nächsten kommt „Sie kostet 450 Euro.“ [1]."
    )
    assert unanswered_text(evidence, "eine Zahl").startswith(
        "Dazu finde ich in den Quellen keine Antwort: keine Quelle nennt eine Zahl dazu. Am nächsten"
    )


def test_a_headline_that_shares_no_content_word_with_the_question_is_unrelated() -> None:
    """The headline reader gives a span for any question over a headline on the same topic."""
    headline = "Elon Musk kauft Twitter: Was nun?"
    (evidence,) = choose_evidence(
        [Reading(0, 15, 22, "Twitter", margin=-3.0, confidence=0.17)], SOURCES, [headline], 0.0
    )
    evidence = evidence.model_copy(update={"passage_chars": len(headline)})
    assert not unrelated_headline("Wer hat Twitter gekauft?", evidence, headline)
    assert not unrelated_headline("Wie heißt der Hund von Elon Musk?", evidence, headline)  # "Musk" is shared
    assert unrelated_headline("Welche Firma baut die größte Windturbine?", evidence, headline)
    # inflections meet by their first letters; a passage is left to the passage reader's confidence
    assert not unrelated_headline("Was kauften die Käufer von Twitters Aktien?", evidence, headline)
    passage = evidence.model_copy(update={"passage_chars": 900})
    assert not unrelated_headline("Welche Firma baut die größte Windturbine?", passage, headline)
