"""The 10kGNAD CSV (derStandard.at articles; no header, ``label;text``, ``'`` quotes) as articles.

Why the lead becomes the title: the data set has no titles, dates or URLs, but each text opens with
the article's lead sentence, which names the topic the way a headline does. Ids are built from the
file name and line number, so they stay the same on every run and for every reader of the file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from ingest.sources.base import (
    SourceItem,
    build_article,
    csv_rows,
    read_text,
)
from rag.core.domain import Skipped

TITLE_MAX_CHARS = 200
# A sentence ends at . ! ? or … (plus closing quotes) before whitespace and an upper-case start.
_SENTENCE_END = re.compile(r"""[.!?…]["'“”»«)]*(?=\s+["'„“»«(]?[A-ZÄÖÜ0-9])""")
_LAST_WORD = re.compile(r"(\S+)$")
# Periods that do not end a sentence: abbreviations, initials ("Elisabeth S.", "z.B."), day and
# month ordinals ("21. August"); longer numbers are years and may end one ("seit Juli 2011.").
_ABBREVIATION = re.compile(
    "abs|bzw|ca|dipl|dr|etc|evtl|gem|ggf|hl|inkl|jh|jhdt|mag|mio|mrd|nr|prof|rd|sog|st|str|tel|univ|usw|vgl|vs"
)


def _ends_sentence(text: str, end: int) -> bool:
    if text[end] != ".":
        return True
    match = _LAST_WORD.search(text, 0, end)
    word = match.group(1).lstrip("(\"'„“»«").lower() if match else ""
    segment = word.rpartition(".")[2]
    is_ordinal = segment.isdigit() and len(segment) <= 2
    return not (_ABBREVIATION.fullmatch(word) or is_ordinal or len(segment) == 1)


def split_lead(text: str) -> tuple[str, str]:
    """The first sentence and the rest of ``text``; the whole text when no sentence end is found."""
    for match in _SENTENCE_END.finditer(text):
        if _ends_sentence(text, match.start()):
            return text[: match.end()].strip(), text[match.end() :].strip()
    return text.strip(), ""


def shorten(text: str, limit: int = TITLE_MAX_CHARS) -> str:
    """``text`` cut at the last word boundary within ``limit`` characters, marked with an ellipsis."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    return (head.rpartition(" ")[0] or head).rstrip(",;:\u2013- ") + "…"


def _article(fields: list[str], article_id: str, where: str) -> SourceItem:
    if len(fields) != 2:
        return Skipped(location=where, reason=f"2 Spalten erwartet (label;text), {len(fields)} gefunden")
    label, text = (field.strip() for field in fields)
    if not label:
        return Skipped(location=where, reason="leeres Label")
    if not text:
        return Skipped(location=where, reason="leerer Text")
    lead, rest = split_lead(text)
    lead = " ".join(lead.split())  # the data has stray double spaces; the title collapses them too
    return build_article(
        where,
        id=article_id,
        title=shorten(lead),
        teaser=lead,
        body=rest,
        section=(label,),
        source="derstandard",
    )


def read_gnad(location: str | os.PathLike[str]) -> Iterator[SourceItem]:
    """One article per row (id ``10kgnad-<file stem>-<line>``), ``Skipped`` (``file:line``) per bad row."""
    name = os.fspath(location)
    text = read_text(name)
    if isinstance(text, Skipped):
        yield text
        return
    stem = PurePosixPath(urlsplit(name).path).name.split(".")[0]
    for row in csv_rows(name, text, delimiter=";", quotechar="'"):
        if isinstance(row, Skipped):
            yield row
            continue
        line, fields = row
        yield _article(fields, f"10kgnad-{stem}-{line}", f"{name}:{line}")
