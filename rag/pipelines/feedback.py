"""Reader feedback on answers (thumbs up/down), kept as JSON lines for later evaluation.

Why JSONL: one self-contained record per vote (question, the question actually searched, answer,
sources, filters, models) that `pandas.read_json(lines=True)` or an evaluation script reads without
a schema migration; appends from the app's session threads are serialized by a lock and written
as one line each, so a crash never leaves half a record behind another one.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from rag.core.answer import Answer, AppliedFilters, SourceRef

Rating = Literal["up", "down"]
_LOCK = threading.Lock()


class FeedbackRecord(BaseModel):
    """One vote on one answer."""

    answer_id: str  # the same answer voted twice: the later record counts
    rating: Rating
    question: str
    searched_question: str
    answer: str
    sources: list[SourceRef]
    cited: list[int]
    filters: AppliedFilters
    backend: str
    generator_model: str
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def from_answer(
        cls,
        rating: Rating,
        question: str,
        answer: Answer,
        *,
        answer_id: str,
        backend: str,
        generator_model: str,
    ) -> FeedbackRecord:
        """``question`` is what the reader typed; ``answer.question`` what was searched."""
        return cls(
            answer_id=answer_id,
            rating=rating,
            question=question,
            searched_question=answer.question,
            answer=answer.text,
            sources=answer.sources,
            cited=[c.number for c in answer.citations],
            filters=answer.filters,
            backend=backend,
            generator_model=generator_model,
        )


class FeedbackLog:
    """Appends records to one JSONL file and reads them back."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, record: FeedbackRecord) -> None:
        line = record.model_dump_json() + "\n"
        with _LOCK:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line)

    def records(self) -> Iterator[FeedbackRecord]:
        """Every stored record in order; a line that is not a record (hand edits) is skipped."""
        if not self.path.exists():
            return
        with self.path.open(encoding="utf-8") as handle:
            for line in handle:
                if not line.strip():
                    continue
                try:
                    yield FeedbackRecord.model_validate(json.loads(line))
                except ValueError:
                    continue
