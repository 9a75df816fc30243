"""Span decoding: only passage tokens, the length limit, the no-answer score, trimming."""

from __future__ import annotations

import numpy as np

from rag.reader.spans import best_span, trim_span

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
