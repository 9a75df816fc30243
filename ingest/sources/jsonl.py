"""The project's interchange format: one ``Article.model_dump_json()`` per line.

Why JSON lines: any source can be converted once (slow extraction, network) and re-ingested or
shared later; a line is one record, so a corrupt line costs only that article.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from pydantic import ValidationError

from ingest.sources.base import (
    FirstSeen,
    SourceItem,
    read_text,
    screen,
    text_problem,
)
from rag.core.domain import Article, Skipped
from rag.core.german import validation_reason


def read_jsonl(location: str | os.PathLike[str]) -> Iterator[SourceItem]:
    """One article per non-blank line; ``Skipped`` (``file:line``) with pydantic's reason per bad line."""
    name = os.fspath(location)
    text = read_text(name)
    if isinstance(text, Skipped):
        yield text
        return
    keep_first = FirstSeen()
    # Split on "\n" only: JSON strings may hold U+2028 and other characters str.splitlines breaks at.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{name}:{number}"
        if problem := text_problem(line.rstrip("\r")):
            yield Skipped(location=where, reason=problem)
            continue
        try:
            article = Article.model_validate_json(line)
        except ValidationError as err:
            yield Skipped(location=where, reason=validation_reason(err))
            continue
        yield keep_first(screen(article, where), where)


def write_jsonl(articles: Iterable[Article], path: str | os.PathLike[str]) -> int:
    """Write ``articles`` to ``path`` (replacing it, creating its folder) and return how many."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with target.open("w", encoding="utf-8", newline="\n") as handle:
        for article in articles:
            handle.write(article.model_dump_json() + "\n")
            count += 1
    return count
