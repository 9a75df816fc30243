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
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class BrokenLine:
    """A line csv cannot parse: its 1-based number and csv's (English) message."""

    line: int
    error: str


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
            yield BrokenLine(number, str(err))
        else:
            yield number, fields
