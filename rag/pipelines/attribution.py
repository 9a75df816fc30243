"""Citations for answer sentences that the model left without one.

Why: small answer models often state a fact from a source but skip the ``[n]`` marker the prompt
asks for (Qwen2.5-Coder-0.5B cites in almost no answer). A sentence more than half of whose content
words (German stop words removed, Snowball-stemmed, as in the BM25 index) stand in one source came
from that source, so the marker is added after generation and the answer says that it was. Marks
the model wrote itself are never changed; a sentence that no source covers stays uncited.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.core.answer import SourceRef
from rag.core.sentences import SENTENCE
from rag.retrieval.sparse import tokenize

_MARKER = re.compile(r"\[\d+(?:\s*,\s*\d+)*\]")
MIN_COVERAGE = 0.5
MIN_WORDS = 2


def source_words(sources: Sequence[SourceRef]) -> list[tuple[int, set[str]]]:
    """Each source's number and content words (title and passage), computed once per answer."""
    return [(s.number, set(tokenize(f"{s.title} {s.passage}"))) for s in sources]


def best_source(sentence: str, sources: Sequence[tuple[int, set[str]]]) -> int | None:
    """Number of the source covering the largest share (more than half) of the content words."""
    words = set(tokenize(sentence))
    if len(words) < MIN_WORDS:
        return None
    share, number = max(((len(words & known) / len(words), n) for n, known in sources), default=(0.0, 0))
    return number if share > MIN_COVERAGE else None


def attribute_citations(text: str, sources: Sequence[SourceRef]) -> tuple[str, bool]:
    """The text with a ``[n]`` before the end of every uncited, source-covered sentence."""
    added = False
    parts = []
    words = source_words(sources)
    for match in SENTENCE.finditer(text):
        sentence = match.group(0)
        number = None if _MARKER.search(sentence) else best_source(sentence, words)
        if number is not None:
            body = sentence.rstrip()
            stripped = body.rstrip(".!?")
            sentence = f"{stripped} [{number}]{body[len(stripped) :]}{sentence[len(body) :]}"
            added = True
        parts.append(sentence)
    return "".join(parts), added
