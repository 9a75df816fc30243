"""SQuAD v1.1 JSON (here German XQuAD) as articles: one per paragraph, so questions map to passages.

Why one article per paragraph: SQuAD questions are answered by one paragraph, so retrieval is
evaluated by whether that paragraph comes back; its id ``<title>#<paragraph index>`` is what the
question set refers to.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

from ingest.sources.base import (
    FirstSeen,
    SourceItem,
    UnreadableLocation,
    build_article,
    decode_text,
    read_location,
)
from rag.core.domain import Skipped


def _paragraphs(
    name: str, entry: Any, index: int, source: str, keep_first: FirstSeen
) -> Iterator[SourceItem]:
    """One item per paragraph of one SQuAD article entry."""
    title = entry.get("title") if isinstance(entry, dict) else None
    paragraphs = entry.get("paragraphs") if isinstance(entry, dict) else None
    if not isinstance(title, str) or not isinstance(paragraphs, list):
        where = f"{name}:data[{index}]"
        yield Skipped(
            location=where, reason="kein SQuAD-Artikel: braucht 'title' und eine Liste 'paragraphs'"
        )
        return
    for number, paragraph in enumerate(paragraphs):
        where = f"{name}:{title}#{number}"
        context = paragraph.get("context") if isinstance(paragraph, dict) else None
        if not isinstance(context, str) or not context.strip():
            yield Skipped(location=where, reason="Absatz ohne Text in 'context'")
            continue
        # Titles are Wikipedia page names ("Super_Bowl_50"); spaces read (and embed) as words.
        item = build_article(
            where, id=f"{title}#{number}", title=title.replace("_", " "), body=context.strip(), source=source
        )
        yield keep_first(item, where)


def read_squad(location: str | os.PathLike[str], *, source: str = "xquad") -> Iterator[SourceItem]:
    """One article per paragraph; ``Skipped`` per paragraph without text, or once for a non-SQuAD file."""
    name = os.fspath(location)
    try:
        document = json.loads(decode_text(read_location(name).data))
    except UnreadableLocation as err:
        yield Skipped(location=name, reason=str(err))
        return
    except json.JSONDecodeError as err:
        yield Skipped(location=name, reason=f"kein JSON (Zeile {err.lineno}, Spalte {err.colno})")
        return
    entries = document.get("data") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        yield Skipped(location=name, reason="kein SQuAD-JSON: keine Liste 'data' auf oberster Ebene")
        return
    keep_first = FirstSeen()
    for index, entry in enumerate(entries):
        yield from _paragraphs(name, entry, index, source, keep_first)
