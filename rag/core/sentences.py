"""German sentence boundaries, shared by passage focusing, citation attribution, the evidence
sentence and the reader's spans.

Why a regular expression and not a sentence splitter library: the texts are short news passages
and headlines, the only traps that showed on the dev sets are initials, "z. B." and dates, and the
same boundaries must hold in the served library and in training data.
"""

from __future__ import annotations

import re

# A sentence, with the white space before it, ends at . ! ? followed by white space or the end of
# the text ("2.0" and "22.12.2023" do not end one), except after a lone letter (the initial in
# "William E. Simon", "z. B.") and before a month or "Jahrhundert" (the day in "27. Januar", the
# ordinal in "im 21. Jahrhundert").
_NOT_AFTER_ORDINAL = (
    "Januar|Februar|März|April|Mai|Juni|Juli|August|September|Oktober|November|Dezember|Jahrhunderts?"
)
SENTENCE = re.compile(
    rf"\s*\S.*?(?:(?<!\b[^\W\d_])[.!?]+(?=\s|$)(?!\s+(?:{_NOT_AFTER_ORDINAL})\b)|$)", re.DOTALL
)


def is_one_sentence(text: str) -> bool:
    """True unless ``text`` runs over a sentence end ("Hallenmarkt Newcastles. Bei seiner Eröffnung")."""
    return sum(1 for _ in SENTENCE.finditer(text.strip())) <= 1
