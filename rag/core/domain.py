"""Domain types shared by ingest, retrieval, the app and evaluation.

Why pydantic: articles cross process boundaries (JSONL interchange, Qdrant payloads), so one
validated model with timezone-aware dates is the contract every source must meet.
"""

from __future__ import annotations

import hashlib
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

# heise and the product speak German local time; dates without an offset are read in it.
BERLIN = ZoneInfo("Europe/Berlin")


class Article(BaseModel):
    """One news article as every source yields it; ``id`` is unique within its ``source``."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1)
    url: str | None = None
    title: str = Field(min_length=1)
    teaser: str = ""
    body: str = ""
    published_at: AwareDatetime | None = None
    authors: tuple[str, ...] = ()
    section: tuple[str, ...] = ()
    source: str = Field(min_length=1)
    comments: int | None = None

    @field_validator("title")
    @classmethod
    def _title_has_text(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("Titel ist leer")
        return value

    @property
    def content_hash(self) -> str:
        """Hash of everything that ends up in the index, so changed articles are re-embedded."""
        return hashlib.sha256(self.model_dump_json().encode("utf-8")).hexdigest()


class Skipped(BaseModel):
    """An input item that was not ingested, with where it came from and why."""

    model_config = ConfigDict(frozen=True)

    location: str
    reason: str
