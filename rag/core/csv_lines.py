"""CSV read one record per line, so that one broken line costs only itself.

Why not ``csv.reader`` over the whole file: after an unbalanced quote it reads on across line
breaks until the next quote, silently joining the good records after it into one field and
reporting a line number past the damage. The project's CSV inputs (headline files, 10kGNAD, the
predictor's input) keep one record per line, so each line is parsed alone and strictly: a broken
line is reported with its own number and every line after it is still read. The price is that a
quoted field cannot span lines. Ingest sources and ``predict-headline`` share this one reader.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class BrokenLine:
    """A line csv cannot parse: its 1-based number and why, in German (``german_csv_error``)."""

    line: int
    error: str


# The csv module's messages (CPython's _csv.c) -> German; the inputs are users' files.
_CSV_ERRORS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), template)
    for pattern, template in (
        (r"unexpected end of data", "Anführungszeichen nicht geschlossen"),
        (r"'(?P<want>.)' expected after '(?P<after>.)'", "nach '{after}' fehlt '{want}'"),
        (
            r"new-line character seen in unquoted field.*",
            "Zeilenumbruch in einem Feld ohne Anführungszeichen",
        ),
        (r"line contains NUL", "Zeile enthält ein NUL-Zeichen"),
        (r"field larger than field limit \((?P<limit>\d+)\)", "Feld länger als {limit} Zeichen"),
    )
)


def german_csv_error(err: csv.Error) -> str:
    """csv's message in German; one not listed is quoted as code, so it still says what happened."""
    text = str(err)
    for pattern, template in _CSV_ERRORS:
        if match := pattern.fullmatch(text):
            return template.format(**match.groupdict())
    return f"`{text}`"


def csv_lines(
    text: str, dialect: str | csv.Dialect | type[csv.Dialect] = "excel", **fmtparams: Any
) -> Iterator[tuple[int, list[str]] | BrokenLine]:
    """``(line number, fields)`` per non-blank line; a line csv cannot parse is a ``BrokenLine``."""
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            fields = next(csv.reader([line.removesuffix("\r")], dialect, strict=True, **fmtparams))
        except csv.Error as err:
            yield BrokenLine(number, german_csv_error(err))
        else:
            yield number, fields
