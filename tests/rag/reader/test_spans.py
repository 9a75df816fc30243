"""Span decoding: only passage tokens, the length limit, the no-answer score, trimming, and the
preference for a span that names a number when the question asks for one."""

from __future__ import annotations

import re

import numpy as np
import torch

from rag.core.question_form import names_number
from rag.reader.model import Calibration
from rag.reader.reader import answer_test, readings
from rag.reader.spans import best_span, brackets_balanced, trim_span, whole_value

# [CLS] q q [SEP] p0 p1 p2 [SEP]
OFFSETS = [None, None, None, None, (0, 5), (6, 11), (12, 20), None]


def test_the_best_valid_span_wins_and_question_tokens_are_never_picked() -> None:
    start = np.array([1.0, 9.0, 0, 0, 2.0, 0.5, 0.1, 0])  # the question token 1 scores highest
    end = np.array([1.0, 0, 9.0, 0, 0.1, 3.0, 0.2, 0])
    span = best_span(start, end, OFFSETS)
    assert span is not None
    assert (span.start, span.end) == (0, 11)  # start at p0, end at p1
    assert span.score == 5.0
    assert span.null_score == 2.0  # [CLS] start + end


def test_an_end_before_its_start_or_beyond_the_length_limit_is_not_a_span() -> None:
    start = np.array([0, 0, 0, 0, -10.0, -10.0, 5.0, 0])
    end = np.array([0, 0, 0, 0, 9.0, 0, 1.0, 0])  # the best end lies before the best start
    span = best_span(start, end, OFFSETS)
    assert span is not None and (span.start, span.end) == (12, 20)
    limited = best_span(
        np.array([0, 0, 0, 0, 5.0, 0, 0, 0]), np.array([0, 0, 0, 0, 0, 0, 9.0, 0]), OFFSETS, 2
    )
    assert limited is not None and (limited.start, limited.end) == (12, 20)  # not p0..p2: 3 tokens


def test_a_window_without_passage_tokens_has_no_span() -> None:
    assert best_span(np.zeros(3), np.zeros(3), [None, None, None]) is None


def test_trim_span_drops_spaces_quotes_and_trailing_punctuation() -> None:
    text = "Er sagte: „SiFive“, dann."
    start, end = trim_span(text, 9, 19)
    assert text[start:end] == "SiFive"


def _bounded(text: str, span: str) -> str:
    start = text.index(span)
    first, last = whole_value(text, start, start + len(span))
    return text[first:last]


def test_a_bound_before_a_number_joins_the_span_an_approximation_does_not() -> None:
    assert _bounded("Die KI flog mehr als 17 Stunden.", "17 Stunden") == "mehr als 17 Stunden"
    assert _bounded("Das kam über 100 mal vor.", "100 mal") == "über 100 mal"
    assert _bounded("Weniger als 5 Prozent, bis zu 5 GB.", "5 Prozent") == "Weniger als 5 Prozent"
    assert _bounded("Weniger als 5 Prozent, bis zu 5 GB.", "5 GB") == "bis zu 5 GB"
    assert _bounded("ein Wirkungsgrad von etwa 63 %", "63 %") == "63 %"
    assert _bounded("Gegenüber 5 Jahren davor", "5 Jahren") == "5 Jahren"  # a word ending in "über"
    assert _bounded("mehr als die Hälfte", "die Hälfte") == "die Hälfte"  # only before a digit
    assert _bounded("über 100", "über 100") == "über 100"


def test_a_year_keeps_its_day_and_month() -> None:
    assert _bounded("Der Test begann am 27. Januar 1967 morgens.", "1967") == "27. Januar 1967"
    assert _bounded("Das war im April 1991.", "1991") == "April 1991"
    assert _bounded("Im Jahr 1973 stieg der Preis.", "1973") == "1973"  # no month before it
    assert _bounded("von 1870 bis 1939 in Betrieb", "1939") == "1939"
    assert _bounded("Mai 2013: über 2000 Jahre alt", "2000 Jahre") == "über 2000 Jahre"  # a bound, no date
    assert _bounded("am 3. Mai 20 Gäste", "20 Gäste") == "20 Gäste"  # not a year


def test_a_number_keeps_its_scale_word() -> None:
    assert _bounded("vor etwa 515 Millionen Jahren", "515") == "515 Millionen"
    assert _bounded("ein Umsatz von 30 Mio. Euro", "30") == "30 Mio."
    assert _bounded("über 2,5 Milliarden Nutzer", "2,5") == "über 2,5 Milliarden"
    assert _bounded("515 Millionärinnen", "515") == "515"  # a whole word only


def test_a_reading_keeps_the_bound_of_its_number() -> None:
    text = "Ein Algorithmus pilotierte den Jet mehr als 17 Stunden lang."
    words = list(re.finditer(r"\S+", text))
    offsets = [None, None, None, None, *[(m.start(), m.end()) for m in words], None]
    enc = {"overflow_to_sample_mapping": torch.tensor([0]), "offset_mapping": [offsets]}
    at = 4 + [m.group(0) for m in words].index("17")
    start, end = torch.zeros(1, len(offsets)), torch.zeros(1, len(offsets))
    start[0, at], end[0, at + 1] = 8.0, 8.0
    (reading,) = readings(enc, start, end, [text], Calibration())
    assert reading.text == "mehr als 17 Stunden"
    assert text[reading.start : reading.end] == reading.text


def test_accept_limits_the_candidates_and_nothing_accepted_is_no_span() -> None:
    start = np.array([0, 0, 0, 0, 4.0, 0, 1.0, 0])
    end = np.array([0, 0, 0, 0, 0, 4.0, 1.0, 0])
    span = best_span(start, end, OFFSETS, accept=lambda s, e: s >= 12)
    assert span is not None and (span.start, span.end) == (12, 20) and span.score == 2.0
    assert best_span(start, end, OFFSETS, accept=lambda s, e: False) is None


# one window: [CLS] q [SEP] Deutsche Welle sendet 300 Programme [SEP]
PASSAGE = "Deutsche Welle sendet 300 Programme"
WINDOW_OFFSETS = [None, None, None, (0, 8), (9, 14), (15, 21), (22, 25), (26, 35), None]


def _read(accept: object) -> tuple[str, float, bool]:
    start = torch.tensor([[0, 0, 0, 5.0, 0, 0, 6.0, 0, 0]])
    end = torch.tensor([[0, 0, 0, 0, 5.0, 0, 0, 3.0, 0]])
    enc = {"overflow_to_sample_mapping": torch.tensor([0]), "offset_mapping": [WINDOW_OFFSETS]}
    (reading,) = readings(enc, start, end, [PASSAGE], Calibration(), accept)  # type: ignore[arg-type]
    return reading.text, reading.margin, reading.fits


def test_a_number_question_takes_the_best_span_that_names_a_number() -> None:
    assert _read(None) == ("Deutsche Welle", 10.0, True)
    assert _read(names_number) == ("300 Programme", 9.0, True)  # its own, lower margin
    # no span names a number: the best span as before, marked as not fitting the question
    assert _read(lambda text: "Radio" in text) == ("Deutsche Welle", 10.0, False)


def test_answer_test_one_sentence_balanced_brackets_numbers_for_number_questions() -> None:
    who, when = answer_test("Wer eröffnete den Hallenmarkt?"), answer_test("Wann wurde er eröffnet?")
    assert who("Hallenmarkt Newcastles") and not who("Hallenmarkt Newcastles. Bei seiner Eröffnung 1835")
    assert when("1835") and not when("Hallenmarkt Newcastles")
    assert not when("233 Gemälde") and when("im Mai")  # "Wann …?" wants a time, not any number
    assert answer_test("Wie viele Gemälde spendete er?")("233 Gemälde")
    price = answer_test("Wie viel kostet das iPhone 14?")
    assert not price("14: Apple plant wohl Preiserhöhungen") and price("mehr als 2000 Euro")
    assert not when("Newcastles. Bei seiner Eröffnung 1835")
    # a span cut at a bracket is half a phrase
    assert not who("Porifera (Schwämme") and not who("Raumfahrt), Joseph Shea")
    assert answer_test("Was verbindet die Breitspur?")("1.600 mm (5 Fuß 3 Zoll)") and not when("Zoll), 1835")
    # an indirect question names what is asked, not the answer
    what = answer_test("Was kündigte Apple im September 2023 an?")
    assert not what("Wann Apple angeblich die Veröffentlichung plant") and what("iPadOS 17")


def test_a_question_for_a_person_or_firm_is_not_answered_by_a_number() -> None:
    """ "69 Milliarden US-Dollar" answered "Welche Firma hat Activision Blizzard übernommen?"."""
    firm = answer_test("Welche Firma hat Activision Blizzard übernommen?")
    assert firm("Microsoft") and not firm("69 Milliarden US-Dollar")
    won = answer_test("Wer gewann 2000 die Ekstraklasa-Meisterschaft?")
    assert won("Polonia Warschau") and not won("1946") and won("2000 Polonia Warschau")  # its own year
    assert answer_test("Was kostet die Übernahme?")("69 Milliarden US-Dollar")


def test_a_bracket_the_span_opens_and_closes_survives_trimming() -> None:
    text = "Die Breitspur mit 1.600 mm (5 Fuß 3 Zoll) verbindet"
    start = text.index("1.600")
    first, last = trim_span(text, start - 1, text.index(")") + 2)  # with the spaces around it
    assert text[first:last] == "1.600 mm (5 Fuß 3 Zoll)"
    assert trim_span("(Schwämme", 0, 9) == (1, 9)  # an opening bracket it does not close goes
    assert trim_span("(1982)", 0, 6) == (1, 5)  # a pair around all of it goes too
    assert trim_span("(a) und (b)", 0, 11) == (0, 11)
    assert brackets_balanced("a (b) [c]") and not brackets_balanced("a) (b") and not brackets_balanced("(a")
