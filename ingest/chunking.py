"""Split articles into token-bounded, sentence-aware chunks that each carry the article title.

Why tokens, not characters: the embedder truncates at its own token limit, so a chunk measured in
characters can silently lose its end. The budget is measured with the embedder's tokenizer and
leaves room for the title and the document prompt that every chunk is embedded with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from langchain_text_splitters import RecursiveCharacterTextSplitter

from rag.core.domain import Article
from rag.retrieval.sparse import document_text

# Paragraphs first, then sentence ends, then clauses, then words: the splitter falls back in order.
SEPARATORS = ["\n\n", "\n", ". ", "! ", "? ", "; ", ": ", ", ", " ", ""]


@dataclass(frozen=True)
class Chunk:
    """One piece of an article; ``embed_text`` is what the encoders see (title + passage)."""

    article: Article
    index: int
    text: str

    @property
    def embed_text(self) -> str:
        return document_text(self.article.title, self.text)


class Chunker:
    """Chunk articles with a budget of ``max_tokens`` per embedded text and ``overlap`` tokens."""

    def __init__(self, count_tokens: Callable[[str], int], max_tokens: int, overlap: int) -> None:
        if not 0 <= overlap < max_tokens:
            raise ValueError(f"overlap ({overlap}) must be in [0, max_tokens={max_tokens})")
        self._count = count_tokens
        self.max_tokens = max_tokens
        self.overlap = overlap

    def _splitter(self, budget: int) -> RecursiveCharacterTextSplitter:
        return RecursiveCharacterTextSplitter(
            chunk_size=budget,
            chunk_overlap=min(self.overlap, budget // 2),
            length_function=self._count,
            separators=SEPARATORS,
            keep_separator="end",
            strip_whitespace=True,
        )

    def chunk(self, article: Article) -> list[Chunk]:
        """A headline-only article is one chunk; otherwise teaser and body are split by tokens."""
        content = "\n\n".join(part for part in (article.teaser, article.body) if part.strip())
        if not content:
            return [Chunk(article, 0, article.title)]
        # The title (plus a newline) precedes every chunk in the embedded text.
        budget = max(16, self.max_tokens - self._count(article.title + "\n"))
        pieces = self._splitter(budget).split_text(content)
        return [Chunk(article, i, piece) for i, piece in enumerate(pieces)]
