"""Predict a CSV file of headlines: every other column kept, ``p_good`` and ``label`` added.

Why the csv module and byte-level decoding: an editor's export may be half UTF-8, half Latin-1, or
carry a row with an empty or absurd headline; such a row must be reported with its line number and
left unscored while every other row is predicted. Undecodable bytes are carried through unchanged
(``surrogateescape``), so the output differs from the input only by the two new columns. Lines are
read by ``rag.core.csv_lines`` (as the ingest sources read theirs): a line with an unbalanced quote is
reported and left out instead of swallowing the good rows after it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from rag.core.csv_lines import BrokenLine, csv_lines
from rag.engagement.predictor import EngagementPredictor, HeadlineError, validate_headline

HEADLINE_COLUMN = "headline"
OUTPUT_COLUMNS = ("p_good", "label")


class CsvInputError(ValueError):
    """The file as a whole cannot be read as a headline table (German message)."""


@dataclass
class CsvReport:
    """How many rows were predicted, and each skipped row as (line number, reason)."""

    rows: int = 0
    predicted: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)

    def summary(self) -> str:
        text = f"{self.predicted} von {self.rows} Schlagzeilen bewertet"
        return text + (f", {len(self.skipped)} Zeile(n) übersprungen" if self.skipped else "")


def _decode(raw: bytes) -> str:
    """UTF-8 text (a byte-order mark dropped); bytes that are not UTF-8 survive as surrogates."""
    return raw.removeprefix(b"\xef\xbb\xbf").decode("utf-8", errors="surrogateescape")


def _dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    try:
        return csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        return csv.excel


def _has_bad_bytes(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


@dataclass(frozen=True)
class CsvRows:
    """A headline table: header names, data rows with their line numbers, unparseable lines, dialect."""

    header: list[str]
    rows: list[tuple[int, list[str]]]
    broken: list[BrokenLine]
    dialect: csv.Dialect | type[csv.Dialect]


def read_rows(source: Path) -> CsvRows:
    """The rows of a headline CSV, read line by line so a broken line cannot swallow the ones after it."""
    try:
        raw = source.read_bytes()
    except OSError as exc:
        raise CsvInputError(f"Datei {source} nicht lesbar: {exc.strerror or exc}") from exc
    text = _decode(raw)
    if not text.strip():
        raise CsvInputError(f"Datei {source} ist leer")
    dialect = _dialect(text)
    lines = csv_lines(text, dialect)
    first = next(lines)
    if isinstance(first, BrokenLine):
        raise CsvInputError(
            f"Datei {source} ist kein lesbares CSV (Kopfzeile, Zeile {first.line}): {first.error}"
        )
    names = [name.strip() for name in first[1]]
    if HEADLINE_COLUMN not in names:
        found = ", ".join(repr(n) for n in names) or "keine"
        raise CsvInputError(f"Datei {source} hat keine Spalte {HEADLINE_COLUMN!r} (gefunden: {found})")
    rows: list[tuple[int, list[str]]] = []
    broken: list[BrokenLine] = []
    for line in lines:
        if isinstance(line, BrokenLine):
            broken.append(line)
        else:
            rows.append(line)
    return CsvRows(names, rows, broken, dialect)


def predict_csv(predictor: EngagementPredictor, source: Path, destination: TextIO) -> CsvReport:
    """Score every valid row of ``source`` and write all readable rows, with the two new columns, as CSV.

    A line csv cannot parse has no fields to write back: it is left out of the output and reported
    with its line number, like every row that is kept but not scored.
    """
    table = read_rows(source)
    header, rows = table.header, table.rows
    position = header.index(HEADLINE_COLUMN)
    out_header = header + [c for c in OUTPUT_COLUMNS if c not in header]
    report = CsvReport(rows=len(rows) + len(table.broken))
    report.skipped.extend(
        (bad.line, f"kein lesbares CSV ({bad.error}), Zeile fehlt in der Ausgabe") for bad in table.broken
    )
    valid: dict[int, str] = {}
    for i, (line, row) in enumerate(rows):
        cell = row[position] if position < len(row) else ""
        if len(row) > len(header):
            report.skipped.append((line, f"Zeile hat {len(row)} Felder, die Kopfzeile {len(header)}"))
        elif _has_bad_bytes(cell):
            report.skipped.append((line, "Schlagzeile ist nicht UTF-8-kodiert (Datei als UTF-8 speichern)"))
        else:
            try:
                valid[i] = validate_headline(cell)
            except HeadlineError as exc:
                report.skipped.append((line, str(exc)))
    report.skipped.sort()
    predictions = dict(zip(valid, predictor.predict(list(valid.values())), strict=True))
    report.predicted = len(predictions)
    p_column, label_column = (out_header.index(name) for name in OUTPUT_COLUMNS)
    # Quotes inside a field are doubled even where the sniffed dialect says otherwise: without it a
    # headline like `Er sagt "Nein"` (valid in an unquoted field) has no way to be written at all.
    writer = csv.writer(destination, table.dialect, doublequote=True)
    writer.writerow(out_header)
    for i, (_, row) in enumerate(rows):
        cells = (row + [""] * len(out_header))[: len(out_header)]
        found = predictions.get(i)
        cells[p_column] = f"{found.p_many_comments:.4f}" if found else ""
        cells[label_column] = found.label if found else ""
        writer.writerow(cells)
    return report


def predict_csv_file(predictor: EngagementPredictor, source: Path, target: Path) -> CsvReport:
    """``predict_csv`` into a file, written atomically, with undecodable bytes kept as they were."""
    partial = target.with_name(target.name + ".partial")
    with partial.open("w", encoding="utf-8", errors="surrogateescape", newline="") as handle:
        report = predict_csv(predictor, source, handle)
    partial.replace(target)
    return report
