"""What the ask path returns: the answer text, its sources and citations, filters and timings."""

from __future__ import annotations

import re
from datetime import date, datetime

from langchain_core.documents import Document
from pydantic import BaseModel, ConfigDict, Field

_CITATION = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


class SourceRef(BaseModel):
    """One source shown to the model; ``number`` is what the answer cites as ``[number]``."""

    number: int
    article_id: str
    source: str
    title: str
    url: str | None = None
    published_at: datetime | None = None
    score: float
    passage: str

    @classmethod
    def from_document(cls, number: int, doc: Document) -> SourceRef:
        meta = doc.metadata
        return cls(
            number=number,
            article_id=meta["article_id"],
            source=meta["source"],
            title=meta.get("title", ""),
            url=meta.get("url"),
            published_at=meta.get("published_at"),
            score=float(meta.get("rerank_score", meta.get("score", 0.0))),
            passage=doc.page_content,
        )


class AppliedFilters(BaseModel):
    """The filters a search ran with, including a date range detected in the question."""

    date_from: date | None = None
    date_to: date | None = None
    detected_text: str = ""
    sources: tuple[str, ...] = ()
    mode: str = "hybrid"
    reranked: bool = False
    excluded_articles: tuple[str, ...] = ()


class Evidence(BaseModel):
    """Where the answer stands: the reader's span inside one sentence of one source.

    ``start``/``end`` are character offsets of ``span`` inside ``sentence``, so a UI can highlight
    it; ``confidence`` is the reader's calibrated probability that the span answers the question,
    ``margin`` the raw score it is calibrated from (span score minus no-answer score), and
    ``passage_chars`` the length of the passage read (headlines have their own calibration).
    """

    model_config = ConfigDict(frozen=True)

    source: int
    article_id: str
    span: str
    sentence: str
    start: int
    end: int
    confidence: float
    margin: float = 0.0
    passage_chars: int = 0


class Answer(BaseModel):
    """The product's answer; ``citations`` are the sources the text actually cites."""

    model_config = ConfigDict(frozen=True)

    question: str
    text: str
    sources: list[SourceRef]
    citations: list[SourceRef]
    filters: AppliedFilters
    timings: dict[str, float] = Field(default_factory=dict)
    notices: list[str] = Field(default_factory=list)
    refused: bool = False
    citations_attributed: bool = False
    """Some citation markers were added after generation (see rag/pipelines/attribution.py)."""
    evidence: list[Evidence] = Field(default_factory=list)
    """The reader's evidence, best first; two entries when the sources disagree on the fact."""
    confidence: float | None = None
    """The reader's confidence in the best evidence; None when no reader ran."""


def resolve_citations(text: str, sources: list[SourceRef]) -> tuple[str, list[SourceRef]]:
    """Keep citation markers that point to a source, drop the others from text and list."""
    by_number = {s.number: s for s in sources}
    cited: dict[int, SourceRef] = {}

    def keep(match: re.Match[str]) -> str:
        numbers = [int(n) for n in re.findall(r"\d+", match.group(1)) if int(n) in by_number]
        for n in numbers:
            cited.setdefault(n, by_number[n])
        return "".join(f"[{n}]" for n in numbers)

    cleaned = re.sub(r"[ \t]+([.,;:!?])", r"\1", _CITATION.sub(keep, text)).strip()
    return cleaned, [cited[n] for n in sorted(cited)]
