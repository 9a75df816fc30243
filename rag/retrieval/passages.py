"""Shorten a source passage to the sentences that matter for the question.

Why: on a CPU the answer model reads the prompt at a few hundred tokens per second, so five full
256-token chunks cost seconds before the first answer token. Keeping, per source, the sentences
that share the most content words with the question (German stop words removed, stemmed as in
the BM25 index) within a character budget, in their original order, keeps the evidence and
drops the rest. The shortened text is what the model sees and what the answer shows as the
passage used.
"""

from __future__ import annotations

from rag.core.sentences import SENTENCE
from rag.retrieval.sparse import tokenize

GAP_COST = 2  # a space and "…" marking left-out text


def focus_passage(text: str, question: str, max_chars: int | None) -> str:
    """``text`` unchanged when it fits, else its most question-like sentences within ``max_chars``."""
    if max_chars is None or len(text) <= max_chars:
        return text
    sentences = [m.group(0).strip() for m in SENTENCE.finditer(text)]
    wanted = set(tokenize(question))
    ranked = sorted(range(len(sentences)), key=lambda i: (-len(wanted & set(tokenize(sentences[i]))), i))
    chosen: list[int] = []
    used = 0
    for i in ranked:
        cost = len(sentences[i]) + GAP_COST
        if used + cost <= max_chars:
            chosen.append(i)
            used += cost
    if not chosen:  # even the best sentence is longer than the budget: keep its start
        return sentences[ranked[0]][: max_chars - 1].rstrip() + "…"
    pieces: list[str] = []
    previous = -1
    for i in sorted(chosen):
        if i != previous + 1:
            pieces.append("…")
        pieces.append(sentences[i])
        previous = i
    if previous != len(sentences) - 1:
        pieces.append("…")
    return " ".join(pieces)
