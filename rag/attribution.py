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

from rag.answer import SourceRef
from rag.sparse import tokenize

# A sentence ends at . ! ? followed by white space or the end ("2.0", "22.12.2023" do not end one).
_SENTENCE = re.compile(r"\s*\S.*?(?:[.!?]+(?=\s|$)|$)", re.DOTALL)
_MARKER = re.compile(r"\[\d+(?:\s*,\s*\d+)*\]")
MIN_COVERAGE = 0.5
MIN_WORDS = 2


def best_source(
    sentence: str, sources: Sequence[SourceRef], min_coverage: float = MIN_COVERAGE
) -> int | None:
    """Number of the source covering the largest share (more than half) of the content words."""
    words = set(tokenize(sentence))
    if len(words) < MIN_WORDS:
        return None
    coverage = [
        (len(words & set(tokenize(f"{s.title} {s.passage}"))) / len(words), s.number) for s in sources
    ]
    share, number = max(coverage, default=(0.0, 0))
    return number if share > min_coverage else None


def attribute_citations(text: str, sources: Sequence[SourceRef]) -> tuple[str, bool]:
    """The text with a ``[n]`` before the end of every uncited, source-covered sentence."""
    added = False
    parts = []
    for match in _SENTENCE.finditer(text):
        sentence = match.group(0)
        number = None if _MARKER.search(sentence) else best_source(sentence, sources)
        if number is not None:
            body = sentence.rstrip()
            stripped = body.rstrip(".!?")
            sentence = f"{stripped} [{number}]{body[len(stripped) :]}{sentence[len(body) :]}"
            added = True
        parts.append(sentence)
    return "".join(parts), added
