"""German BM25 as Qdrant sparse vectors.

Why this split of BM25: Qdrant's IDF modifier computes the inverse document frequency on the
server from the stored vectors (``ln(1 + (N - n + 0.5) / (n + 0.5))``, Lucene's variant), so
documents carry only the saturated, length-normalized term frequency and queries carry a 1 per term.
The length norm needs the corpus' average document length (``avgdl``); the collection records the
value its stored vectors were encoded with, and the ingest re-encodes them from the stored text when
the corpus has drifted away from it (ingest/sparse_stats.py).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from functools import lru_cache

import Stemmer
from qdrant_client import models

from rag.core.stopword_lists import german_stop_words

_WORD = re.compile(r"\w+", re.UNICODE)


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    """PyStemmer's C Snowball stemmer; the pure-Python one cost 10 % of ingest time."""
    return Stemmer.Stemmer("german")


def tokenize(text: str) -> list[str]:
    """Lower-cased words without German stop words, Snowball-stemmed."""
    words = [w for w in _WORD.findall(text.lower()) if w not in german_stop_words() and w != "_"]
    return _stemmer().stemWords(words)


def average_length(token_lists: list[list[str]]) -> float:
    """Mean token count of a sample: a new collection's first ``avgdl``, until its statistics exist."""
    return max(1.0, sum(map(len, token_lists)) / max(1, len(token_lists)))


def document_text(title: str, text: str) -> str:
    """What both encoders read of one chunk: the title line, then the passage.

    A headline-only article stores its title as its text, so the title is not doubled then. One
    function for ingest and for re-encoding stored points, so a re-encoded vector equals a fresh one.
    """
    return title if text == title else f"{title}\n{text}"


def term_index(term: str) -> int:
    """A stable 32-bit index for a term (Python's own ``hash`` changes between processes)."""
    return int.from_bytes(hashlib.blake2b(term.encode("utf-8"), digest_size=4).digest(), "little")


class GermanBM25:
    """Encode documents and queries as BM25 sparse vectors for Qdrant."""

    def __init__(self, avgdl: float, k1: float = 1.2, b: float = 0.75) -> None:
        if avgdl <= 0:
            raise ValueError(f"avgdl must be positive, got {avgdl}")
        self.avgdl, self.k1, self.b = avgdl, k1, b

    def encode_terms(self, terms: list[str]) -> models.SparseVector:
        """BM25 term-frequency weights of a tokenized document; Qdrant applies IDF at query time."""
        counts = Counter(term_index(t) for t in terms)
        norm = self.k1 * (1 - self.b + self.b * len(terms) / self.avgdl)
        indices = sorted(counts)
        values = [counts[i] * (self.k1 + 1) / (counts[i] + norm) for i in indices]
        return models.SparseVector(indices=indices, values=values)

    def encode_document(self, text: str) -> models.SparseVector:
        return self.encode_terms(tokenize(text))

    def encode_query(self, text: str) -> models.SparseVector:
        indices = sorted({term_index(t) for t in tokenize(text)})
        return models.SparseVector(indices=indices, values=[1.0] * len(indices))
