"""Decode answer spans from a span head's start/end logits, without torch.

Why a module of its own: training (to score the development split) and serving decode the same
way, SQuAD 2.0 style. A window's no-answer score is the [CLS] token's start + end logit; a span's
score is its start + end logit, limited to tokens of the passage (the question and the special
tokens carry no character offsets) and to ``max_tokens`` tokens. The reader's margin for a
question is its best span's score minus the lowest no-answer score among the windows that held a
candidate: above zero the head believes the passage answers the question.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from rag.core.timefilter import MONTHS

MAX_ANSWER_TOKENS = 30
TOP_STARTS = 20
# a bound right before a number is part of the fact: "mehr als 17 Stunden" is not "17 Stunden";
# an approximation ("etwa", "rund", "ungefähr") is not, and stays outside the span
_BOUND = re.compile(
    r"(?<![\w-])(?:(?:mehr|weniger) als|über|unter|bis zu|mindestens|höchstens|maximal)\s+$",
    re.IGNORECASE,
)
_BOUND_LOOKBACK = 16
# a year's month and day belong to it: "27. Januar 1967", not "1967"
_YEAR_START = re.compile(r"(?:1\d|20)\d\d(?!\d)")
_DATE_BEFORE_YEAR = re.compile(rf"(?<![\w.])(?:\d{{1,2}}\.\s*)?(?:{'|'.join(MONTHS)})\s+$", re.IGNORECASE)
_DATE_LOOKBACK = 16
_OPENERS, _CLOSERS = "([{", ")]}"
# a scale word after a number is part of it: "515 Millionen Jahren" is not "515"
_SCALE_AFTER = re.compile(r"\s+(?:Tausend|Millionen|Milliarden|Billionen|Mio\.|Mrd\.)(?!\w)")


@dataclass(frozen=True)
class SpanScore:
    """One window's best answer: character offsets into the passage, span score, no-answer score."""

    start: int
    end: int
    score: float
    null_score: float


def best_span(
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    offsets: Sequence[tuple[int, int] | None],
    max_tokens: int = MAX_ANSWER_TOKENS,
    accept: Callable[[int, int], bool] | None = None,
) -> SpanScore | None:
    """The highest-scoring valid span of one window; ``offsets[i]`` is None outside the passage.

    Only the ``TOP_STARTS`` best starts and ends are paired, as in the SQuAD reference decoder:
    exhaustive pairing costs O(n²) for the same answer. ``accept`` (character offsets) limits the
    candidates further, e.g. to spans that name a number; None when no candidate passes.
    """
    null = float(start_logits[0] + end_logits[0])
    valid = np.array([o is not None and o[1] > o[0] for o in offsets])
    if not valid.any():
        return None
    starts = np.where(valid, start_logits, -np.inf)
    ends = np.where(valid, end_logits, -np.inf)
    best: SpanScore | None = None
    for i in np.argsort(starts)[::-1][:TOP_STARTS]:
        if not valid[i]:
            break
        for j in np.argsort(ends[i : i + max_tokens])[::-1][:TOP_STARTS]:
            j = int(i + j)
            if not valid[j]:
                continue
            score = float(starts[i] + ends[j])
            if best is None or score > best.score:
                first, last = offsets[i], offsets[j]
                assert first is not None and last is not None
                if accept is None or accept(first[0], last[1]):
                    best = SpanScore(first[0], last[1], score, null)
    return best


def whole_value(text: str, start: int, end: int) -> tuple[int, int]:
    """Offsets that take in what a number needs to state the fact: a bound before it ("über 100
    mal"), the day and month before a year ("27. Januar 1967"), a scale word after it ("515
    Millionen").

    Why: the head often starts or ends the span at the digits, which turns "more than 17 hours"
    into "17 hours", "8. Februar 2007" into "2007" and "515 Millionen" into "515": other facts.
    SQuAD-style references keep all three ("über 37 Millionen", "6. Oktober 1973")."""
    if start >= end:
        return start, end
    if text[end - 1].isdigit():
        scale = _SCALE_AFTER.match(text, end)
        if scale:
            end = scale.end()
    if not text[start].isdigit():
        return start, end
    if _YEAR_START.match(text, start):
        date = _DATE_BEFORE_YEAR.search(text[max(0, start - _DATE_LOOKBACK) : start])
        if date:
            start -= len(date.group(0))
    found = _BOUND.search(text[max(0, start - _BOUND_LOOKBACK) : start])
    return (start - len(found.group(0)), end) if found else (start, end)


def trim_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Offsets without surrounding spaces and the punctuation a token may drag along; a bracket the
    span itself closes or opens stays (``1.600 mm (5 Fuß 3 Zoll)``)."""
    while start < end and (text[start].isspace() or text[start] in "„“\"'([{,;:"):
        if text[start] in _OPENERS and _CLOSERS[_OPENERS.index(text[start])] in text[start + 1 : end]:
            break
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in "“\"')]},;:."):
        if text[end - 1] in _CLOSERS and _OPENERS[_CLOSERS.index(text[end - 1])] in text[start : end - 1]:
            break
        end -= 1
    if _one_pair_around(text[start:end]):  # "(1982)": the brackets hold all of it
        return trim_span(text, start + 1, end - 1)
    return start, end


def _one_pair_around(span: str) -> bool:
    return (
        len(span) > 2
        and span[0] in _OPENERS
        and span[-1] == _CLOSERS[_OPENERS.index(span[0])]
        and brackets_balanced(span[1:-1])
    )


def brackets_balanced(text: str) -> bool:
    """True unless ``text`` closes a bracket it did not open or leaves one open.

    Why: a span cut at a bracket states half a phrase ("Porifera (Schwämme", "Raumfahrt), Joseph
    Shea"); among the reader's candidates a balanced one is the whole phrase or its outside."""
    depth = 0
    for char in text:
        if char in _OPENERS:
            depth += 1
        elif char in _CLOSERS:
            depth -= 1
            if depth < 0:
                return False
    return depth == 0
