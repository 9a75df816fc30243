"""Sentence boundaries: full stops, but not initials, "z. B." or the day before a month."""

from __future__ import annotations

import pytest

from rag.core.sentences import SENTENCE, is_one_sentence


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("Nixon ernannte William E. Simon. Er blieb.", ["Nixon ernannte William E. Simon.", "Er blieb."]),
        ("Das gilt z. B. hier. Und d. h. dort!", ["Das gilt z. B. hier.", "Und d. h. dort!"]),
        (
            "Am 27. Januar 1967 brannte es. Im 21. Jahrhundert nicht.",
            ["Am 27. Januar 1967 brannte es.", "Im 21. Jahrhundert nicht."],
        ),
        ("Version 2.0 kam 2021. Danach? Nichts.", ["Version 2.0 kam 2021.", "Danach?", "Nichts."]),
        ("Ein Satz ohne Ende", ["Ein Satz ohne Ende"]),
    ],
)
def test_sentences_end_at_full_stops_but_not_after_initials_or_before_months(
    text: str, sentences: list[str]
) -> None:
    assert [m.group(0).strip() for m in SENTENCE.finditer(text)] == sentences


def test_a_span_over_a_sentence_end_is_not_one_sentence() -> None:
    assert not is_one_sentence("Hallenmarkt Newcastles. Bei seiner Eröffnung 1835")
    assert is_one_sentence("William E. Simon")
    assert is_one_sentence("am 27. Januar 1967.")
    assert is_one_sentence("")
