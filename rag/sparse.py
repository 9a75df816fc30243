"""German BM25 as Qdrant sparse vectors.

Why this split of BM25: Qdrant's IDF modifier computes the inverse document frequency on the
server from the stored vectors, so documents carry only the saturated, length-normalized term
frequency and queries carry a 1 per term. The collection's average document length (``avgdl``)
is fixed when the collection is created and stored in its metadata, so incremental ingests stay
comparable.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from functools import lru_cache

import snowballstemmer
from qdrant_client import models
from stop_words import get_stop_words

_WORD = re.compile(r"\w+", re.UNICODE)


@lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    return frozenset(get_stop_words("german"))


def term_index(term: str) -> int:
    """A stable 32-bit index for a term (Python's own ``hash`` changes between processes)."""
    return int.from_bytes(hashlib.blake2b(term.encode("utf-8"), digest_size=4).digest(), "little")


class GermanBM25:
    """Tokenize, drop stop words, stem with Snowball; encode documents and queries for Qdrant."""

    def __init__(self, avgdl: float, k1: float = 1.2, b: float = 0.75) -> None:
        if avgdl <= 0:
            raise ValueError(f"avgdl must be positive, got {avgdl}")
        self.avgdl, self.k1, self.b = avgdl, k1, b
        self._stemmer = snowballstemmer.stemmer("german")

    def tokenize(self, text: str) -> list[str]:
        words = [w for w in _WORD.findall(text.lower()) if w not in _stop_words() and w != "_"]
        return self._stemmer.stemWords(words)

    def encode_document(self, text: str) -> models.SparseVector:
        """BM25 term-frequency weights; IDF is applied by Qdrant at query time."""
        terms = self.tokenize(text)
        counts = Counter(term_index(t) for t in terms)
        norm = self.k1 * (1 - self.b + self.b * len(terms) / self.avgdl)
        indices = sorted(counts)
        values = [counts[i] * (self.k1 + 1) / (counts[i] + norm) for i in indices]
        return models.SparseVector(indices=indices, values=values)

    def encode_query(self, text: str) -> models.SparseVector:
        indices = sorted({term_index(t) for t in self.tokenize(text)})
        return models.SparseVector(indices=indices, values=[1.0] * len(indices))

    def average_length(self, texts: list[str]) -> float:
        """Mean token count of a sample, used once to fix a new collection's ``avgdl``."""
        lengths = [len(self.tokenize(t)) for t in texts]
        return max(1.0, sum(lengths) / max(1, len(lengths)))
