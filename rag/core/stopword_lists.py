"""The stop-word lists the library uses, loaded once per process.

Why one module: BM25, citation attribution, the language notice, follow-up detection and the date
handling all need the same German list (and the notice the English one); each loading and caching
its own copy was four copies of the same two lines.
"""

from __future__ import annotations

from functools import lru_cache

from stop_words import get_stop_words


@lru_cache(maxsize=1)
def german_stop_words() -> frozenset[str]:
    """The ``stop-words`` package's German list."""
    return frozenset(get_stop_words("german"))


@lru_cache(maxsize=1)
def english_stop_words() -> frozenset[str]:
    """The ``stop-words`` package's English list."""
    return frozenset(get_stop_words("english"))
