"""The heise headline CSV (``id,headline,comments,time,quality``, often gzipped) as headline-only articles.

Why the csv module and not pandas: a malformed row must cost only that row, with its line number in
the report; pandas either fails the whole file or drops bad lines without saying which.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator
from datetime import datetime

from ingest.sources.base import (
    FirstSeen,
    SourceItem,
    as_aware,
    build_article,
    csv_rows,
    read_text,
)
from rag.core.domain import Skipped

# `quality` is a label derived from `comments`; it stays out of the article.
REQUIRED_COLUMNS = ("id", "headline", "comments", "time")
_NUMBER = re.compile(r"[0-9]+")


def _heise_id(text: str) -> str:
    value = text.strip()
    if not _NUMBER.fullmatch(value):
        raise ValueError(f"ID {text!r} ist keine heise-Artikelnummer")
    return value


def _comments(text: str) -> int | None:
    """The comment count; the file stores it as a float (``132.0``), an empty cell means unknown."""
    if not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0 and value.is_integer()):
        raise ValueError(f"comments {text!r} ist keine Anzahl")
    return int(value)


def _published(text: str) -> datetime:
    try:
        return as_aware(datetime.fromisoformat(text.strip()))
    except ValueError:
        raise ValueError(f"Zeitpunkt {text!r} nicht lesbar") from None


def _article(fields: list[str], columns: dict[str, int], width: int, where: str) -> SourceItem:
    if len(fields) != width:
        return Skipped(location=where, reason=f"{width} Spalten erwartet, {len(fields)} gefunden")
    try:
        heise_id = _heise_id(fields[columns["id"]])
        comments = _comments(fields[columns["comments"]])
        published = _published(fields[columns["time"]])
    except ValueError as err:
        return Skipped(location=where, reason=str(err))
    return build_article(
        where,
        id=heise_id,
        url=f"https://www.heise.de/-{heise_id}",
        title=fields[columns["headline"]],
        published_at=published,
        comments=comments,
        source="heise",
    )


def read_headlines(location: str | os.PathLike[str]) -> Iterator[SourceItem]:
    """One article per row, ``Skipped`` (``file:line``) for each bad row and each repeated id."""
    name = os.fspath(location)
    text = read_text(name)
    if isinstance(text, Skipped):
        yield text
        return
    rows = csv_rows(name, text)
    header = next(rows, None)
    if not isinstance(header, tuple):
        yield header or Skipped(location=name, reason="leere Datei, keine Kopfzeile")
        return
    header_line, names = header
    columns = {column.strip(): i for i, column in enumerate(names)}
    if missing := [column for column in REQUIRED_COLUMNS if column not in columns]:
        reason = f"keine heise-Schlagzeilen-CSV: Spalte(n) {missing} fehlen"
        yield Skipped(location=f"{name}:{header_line}", reason=reason)
        return
    keep_first = FirstSeen()
    for row in rows:
        if isinstance(row, Skipped):
            yield row
            continue
        line, fields = row
        where = f"{name}:{line}"
        yield keep_first(_article(fields, columns, len(names), where), where)
