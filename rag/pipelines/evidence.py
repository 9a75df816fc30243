"""Answers built around evidence: the reader's span, its sentence, and what is written from them.

Why: the answer model on a CPU is a 0.5B model that, given whole sources, often misses the fact
even when the right article is source [1]. The reader finds the span; the answer is then either
that span with its source (``extractive``) or a sentence the generator writes from the evidence
alone (``evidence``), accepted only when it keeps the span and cites its source, otherwise replaced
by the extractive answer. Below the confidence threshold of its kind of source (headline or
passage), or from a headline that shares no content word with the question, the answer is the
refusal sentence, with the nearest sentence quoted. A double question is answered part by part
(``joined_text``).

A question for a number or a time ("Wie viel kostet …?", "Wann …?") is answered from a source
whose span names one (``Reading.fits``) where any does, and refused, with the nearest sentence
quoted, where none does: the reader's best span regardless ("teuerstem Modell" for the price of an
iPhone, "Gestohlener Cloud-Master-Key" for the bandwidth of an attack) would pass for an answer.

Conflicting sources: when a second source holds a different value (a number or date: prices,
counts, years) for the question, and the reader is sure of both (``CONFLICT_CONFIDENCE``), the
answer names both with their dates instead of picking one silently. Only dated sources can
conflict: the point is to show which value is newer, and undated passages (XQuAD's paragraphs of
one encyclopedia article) gave only false conflicts, two years of one history (19 of 347 answers).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from rag.core.answer import Evidence, SourceRef
from rag.core.modes import ReaderChoice
from rag.core.prompting import REFUSAL
from rag.core.question_form import (
    asks_for_number,
    asks_what_happened,
    asks_when,
    asks_why,
    is_yes_no_question,
)
from rag.core.sentences import SENTENCE
from rag.core.stopword_lists import german_stop_words
from rag.reader.model import HEADLINE_CHARS
from rag.reader.reader import Reading

_CITATION_MARK = "[{}]"
_CITED = re.compile(r"\[(\d+)\]")
# A second source counts as disagreeing only when the reader is this sure of both values: a
# disagreement claimed on a guess would be worse than one value.
CONFLICT_CONFIDENCE = 0.5


def sentence_around(text: str, start: int, end: int) -> tuple[str, int, int]:
    """The sentence(s) of ``text`` that hold [start, end) and the span's offsets inside it."""
    first = last = None
    for match in SENTENCE.finditer(text):
        if first is None and match.end() > start:
            first = match.start()
        if match.end() >= end:
            last = match.end()
            break
    first = first or 0
    last = last or len(text)
    raw = text[first:last]
    lead = len(raw) - len(raw.lstrip())
    sentence = raw.strip()
    return sentence, start - first - lead, end - first - lead


def to_evidence(reading: Reading, sources: Sequence[SourceRef], passages: Sequence[str]) -> Evidence:
    """The reading of ``passages[i]`` as evidence of source ``sources[i]``."""
    sentence, start, end = sentence_around(passages[reading.passage], reading.start, reading.end)
    source = sources[reading.passage]
    return Evidence(
        source=source.number,
        article_id=source.article_id,
        span=reading.text,
        sentence=sentence,
        start=start,
        end=end,
        confidence=round(reading.confidence, 4),
        margin=round(reading.margin, 3),
        passage_chars=len(passages[reading.passage]),
    )


def _dated_source(reading: Reading, sources: Sequence[SourceRef]) -> bool:
    return sources[reading.passage].published_at is not None


def _has_digit(text: str) -> bool:
    return any(c.isdigit() for c in text)


def _value(span: str) -> str:
    return " ".join(span.lower().split())


def order_readings(readings: Sequence[Reading], choice: ReaderChoice) -> list[Reading]:
    """The readings with the one that answers first, the rest by margin (for the conflict check).

    ``margin`` trusts the reader across sources; ``first`` trusts the retriever's source [1] whenever
    the reader found a span in it; ``rank`` takes the best-ranked source whose span the reader
    prefers to no answer (margin above 0), else the best-ranked source with a span. Measured on
    both dev sets: the size of the reader's margins does not compare across passages (on headlines
    they are all far below 0 and rank right and wrong spans alike), its sign does: a passage it
    answers in beats a better-ranked one it would rather not answer from (docs/evaluation.md).
    """
    by_margin = sorted(readings, key=lambda r: r.margin, reverse=True)
    by_rank = sorted(readings, key=lambda r: r.passage)
    if choice == "first":
        chosen = next((r for r in by_rank if r.passage == 0), None)
    elif choice == "rank":
        chosen = next((r for r in by_rank if r.margin > 0), by_rank[0] if by_rank else None)
    else:
        chosen = None
    if chosen is None:
        return by_margin
    return [chosen, *(r for r in by_margin if r is not chosen)]


def choose_evidence(
    readings: Sequence[Reading],
    sources: Sequence[SourceRef],
    passages: Sequence[str],
    min_confidence: float,
    choice: ReaderChoice = "margin",
) -> list[Evidence]:
    """The answering reading as evidence (``order_readings``), plus a second one when the sources
    give two different values."""
    if not readings:
        return []
    readings = order_readings(readings, choice)
    best = to_evidence(readings[0], sources, passages)
    sure = max(min_confidence, CONFLICT_CONFIDENCE)
    if best.confidence < sure or not _has_digit(best.span) or not _dated_source(readings[0], sources):
        return [best]
    for other in readings[1:]:
        if other.confidence < sure or not _has_digit(other.text) or not _dated_source(other, sources):
            continue
        if _value(other.text) not in _value(best.span) and _value(best.span) not in _value(other.text):
            return [best, to_evidence(other, sources, passages)]
    return [best]


def _dated(evidence: Evidence, sources: Sequence[SourceRef]) -> str:
    source = next(s for s in sources if s.number == evidence.source)
    when = f" ({source.published_at:%d.%m.%Y})" if source.published_at else ""
    return f"{evidence.span} {_CITATION_MARK.format(evidence.source)}{when}"


def extractive_text(evidence: Sequence[Evidence], sources: Sequence[SourceRef], question: str) -> str:
    """The span with its source; two disagreeing sources are both named, with their dates.

    A yes/no question gets the span's sentence, quoted: a span cannot say yes or no; so do questions
    for a reason and for what happened, which a span cuts up (``rag/core/question_form.py``)."""
    if len(evidence) > 1:
        named = " und ".join(_dated(e, sources) for e in evidence)
        return f"Die Quellen nennen Unterschiedliches: {named}."
    best = evidence[0]
    marker = _CITATION_MARK.format(best.source)
    if is_yes_no_question(question) or asks_why(question):
        return f"Die Quelle sagt dazu: „{best.sentence.strip()}“ {marker}."
    if asks_what_happened(question):
        return f"Die Quelle berichtet: „{best.sentence.strip()}“ {marker}."
    return f"{best.span} {marker}."


def asked_value(question: str) -> str | None:
    """What a number or time question asks for ("einen Zeitpunkt", "eine Zahl"); None for others."""
    if asks_when(question):
        return "einen Zeitpunkt"
    if asks_for_number(question):
        return "eine Zahl"
    return None


def typed_readings(question: str, readings: Sequence[Reading]) -> tuple[list[Reading], str | None]:
    """The readings to answer from, and what is missing when a number or time question's value is
    named by none: such a question is answered only from readings that name one, where any does."""
    asked = asked_value(question)
    fitting = [r for r in readings if r.fits]
    if asked is None:
        return list(readings), None
    return (fitting, None) if fitting else (list(readings), asked)


def min_confidence_for(evidence: Evidence, headline: float, passage: float) -> float:
    """The refusal threshold for the evidence's kind of source.

    Why two: each reader's confidence is calibrated on its own kind, and only the passage reader's
    separates answers from questions the sources cannot answer (dev questions asked once more
    without their gold articles: passages median 0.05 against 0.63 for right answers; headlines
    0.16 against 0.20, docs/evaluation.md)."""
    return passage if evidence.passage_chars > HEADLINE_CHARS else headline


_WORD = re.compile(r"\w+")
# Words are compared by their first letters so that inflections meet ("Hersteller"/"Herstellers").
_PREFIX = 5


def _content_words(text: str) -> set[str]:
    return {w[:_PREFIX] for w in _WORD.findall(text.lower()) if len(w) >= 4 and w not in german_stop_words()}


def unrelated_headline(question: str, evidence: Evidence, passage: str) -> bool:
    """Whether the evidence is a headline that shares no content word with the question.

    Why: the headline reader's confidence does not tell a question its headline cannot answer
    (its no-answer score was trained on answerable cloze headlines only), and a headline the dense
    search found for its topic gives a span for any question. On the dev sets no right answer
    came from such a headline, while a quarter to a half of the questions asked without their gold
    articles were answered from one (docs/evaluation.md)."""
    if evidence.passage_chars > HEADLINE_CHARS:
        return False
    return not _content_words(question) & _content_words(passage)


def unanswered_text(evidence: Evidence, missing: str | None = None) -> str:
    """The refusal with the nearest sentence quoted: for a question whose value (``missing``) no
    source names, or one the reader is too unsure of to answer."""
    marker = _CITATION_MARK.format(evidence.source)
    reason = f"{REFUSAL.rstrip('.')}: keine Quelle nennt {missing} dazu." if missing else REFUSAL
    return f"{reason} Am nächsten kommt „{evidence.sentence.strip()}“ {marker}."


class PartAnswer(NamedTuple):
    """The extractive answer to one question (or one part of a double question)."""

    text: str
    evidence: list[Evidence]
    confidence: float
    answered: bool


def joined_text(parts: Sequence[str], answers: Sequence[PartAnswer]) -> str:
    """One answer to a double question: each part named with its answer, or with no answer.

    A part without an answer does not make the whole a refusal; where no part has one, the answer
    is the first part's refusal, with its nearest sentence."""
    if not any(a.answered for a in answers):
        return answers[0].text
    return " ".join(
        f"Zu „{part}“: {a.text}" if a.answered else f"Zu „{part}“ finde ich in den Quellen keine Antwort."
        for part, a in zip(parts, answers, strict=True)
    )


def keeps_evidence(text: str, evidence: Evidence) -> bool:
    """A generated answer is accepted only if it holds the span and cites the evidence's source only.

    The span must stand as words of its own outside the citation markers: the 0.5B model once wrote
    a run of markers up to ``[31]`` for the span ``31``, and ``31`` inside ``2031`` is another value.
    Citing another source, which does not hold the span, counts as drift too."""
    if {int(n) for n in _CITED.findall(text)} != {evidence.source}:
        return False
    prose = _value(_CITED.sub(" ", text))
    return re.search(rf"(?<!\w){re.escape(_value(evidence.span))}(?!\w)", prose) is not None
