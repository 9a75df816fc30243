"""German time expressions in a question, turned into a date filter the user can see and undo.

Why hand-written: the product needs date *ranges* ("Anfang 2022" is January to March), and
general date parsers return points in time. Relative expressions ("letzte Woche", "seit März")
resolve against a given ``today`` so tests and the app agree on what they mean.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from rag.core.stopword_lists import german_stop_words

MONTHS = {
    "januar": 1, "jänner": 1, "februar": 2, "märz": 3, "maerz": 3, "april": 4, "mai": 5, "juni": 6,
    "juli": 7, "august": 8, "september": 9, "oktober": 10, "november": 11, "dezember": 12,
}  # fmt: skip
_MONTH = "(?P<month>" + "|".join(MONTHS) + ")"
_YEAR = r"(?P<year>(?:19|20)\d{2})"
_PART = r"(?P<part>anfang|mitte|ende)"
_SEASONS = {"frühling": (3, 5), "frühjahr": (3, 5), "sommer": (6, 8), "herbst": (9, 11)}
_UNITS = {"tagen": 1, "wochen": 7, "monaten": 30}

Range = tuple[date | None, date | None]
Rule = Callable[[re.Match[str]], Range]


@dataclass(frozen=True)
class DateFilter:
    """An inclusive date range; ``text`` is the phrase it came from (empty for explicit filters)."""

    date_from: date | None
    date_to: date | None
    text: str = ""

    @property
    def label(self) -> str:
        """German description for the chip in the app and the CLI."""
        if self.date_from and self.date_to:
            return f"{self.date_from:%d.%m.%Y} – {self.date_to:%d.%m.%Y}"  # noqa: RUF001
        if self.date_from:
            return f"ab {self.date_from:%d.%m.%Y}"
        if self.date_to:
            return f"bis {self.date_to:%d.%m.%Y}"
        return "ohne Zeitraum"


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _last_occurrence(month: int, today: date) -> int:
    """The year of the most recent ``month`` that has begun ("im Oktober" asked in March: last year)."""
    return today.year if month <= today.month else today.year - 1


def _part_of_year(year: int, part: str | None) -> Range:
    """Anfang/Mitte/Ende of a year as its first, middle and last four months."""
    first = {None: 1, "anfang": 1, "mitte": 5, "ende": 9}[part]
    last = 12 if part is None else first + 3
    return date(year, first, 1), _month_end(year, last)


def _part_of_month(year: int, month: int, part: str | None) -> Range:
    """Anfang/Mitte/Ende of a month as days 1-10, 11-20 and 21 to the end."""
    first = {None: 1, "anfang": 1, "mitte": 11, "ende": 21}[part]
    end = _month_end(year, month)
    last = {None: end.day, "anfang": 10, "mitte": 20, "ende": end.day}[part]
    return date(year, month, first), date(year, month, last)


def _relative(match: re.Match[str], today: date) -> Range:
    word, unit = match.group("which"), match.group("unit")
    offset = 0 if word.startswith("dies") else 1
    if unit == "woche":
        monday = today - timedelta(days=today.weekday()) - timedelta(weeks=offset)
        return monday, min(monday + timedelta(days=6), today)
    if unit == "monat":
        year, month = (today.year, today.month - offset) if today.month > offset else (today.year - 1, 12)
        return date(year, month, 1), min(_month_end(year, month), today)
    year = today.year - offset
    return date(year, 1, 1), min(date(year, 12, 31), today)


def _rules(today: date) -> list[tuple[re.Pattern[str], Rule]]:
    """Patterns from the most to the least specific; the first match wins."""

    def month_year(m: re.Match[str]) -> tuple[int, int]:
        month = MONTHS[m.group("month")]
        return (int(m.group("year")) if m.group("year") else _last_occurrence(month, today)), month

    def month_range(m: re.Match[str]) -> Range:
        return _part_of_month(*month_year(m), m.group("part"))

    def year_range(m: re.Match[str]) -> Range:
        return _part_of_year(int(m.group("year")), m.group("part"))

    def quarter(m: re.Match[str]) -> Range:
        q, year = int(m.group("q")), int(m.group("year"))
        return date(year, 3 * q - 2, 1), _month_end(year, 3 * q)

    def season(m: re.Match[str]) -> Range:
        year = int(m.group("year"))
        if m.group("season") == "winter":
            return date(year - 1, 12, 1), _month_end(year, 2)
        first, last = _SEASONS[m.group("season")]
        return date(year, first, 1), _month_end(year, last)

    def last_n(m: re.Match[str]) -> Range:
        return today - timedelta(days=int(m.group("n")) * _UNITS[m.group("unit")]), today

    def day(m: re.Match[str]) -> Range:
        when = today - timedelta(days=("heute", "gestern", "vorgestern").index(m.group("day")))
        return when, when

    return [
        (re.compile(rf"\b(?:im\s+)?(?P<q>[1-4])\.\s*quartal\s+{_YEAR}\b"), quarter),
        (re.compile(rf"\b(?:im\s+)?(?P<season>frühling|frühjahr|sommer|herbst|winter)\s+{_YEAR}\b"), season),
        (re.compile(rf"\bseit\s+{_MONTH}(?:\s+{_YEAR})?\b"), lambda m: (date(*month_year(m), 1), today)),
        (re.compile(rf"\bseit\s+{_YEAR}\b"), lambda m: (date(int(m.group("year")), 1, 1), today)),
        (re.compile(rf"\bvor\s+{_YEAR}\b"), lambda m: (None, date(int(m.group("year")) - 1, 12, 31))),
        (re.compile(rf"\bbis\s+(?:ende\s+)?{_YEAR}\b"), lambda m: (None, date(int(m.group("year")), 12, 31))),
        (re.compile(rf"\b(?:(?:im|in|von)\s+)?(?:{_PART}\s+)?{_MONTH}(?:\s+{_YEAR})?\b"), month_range),
        (re.compile(rf"\b(?:(?:im\s+jahr|im|in)\s+)?(?:{_PART}\s+)?{_YEAR}\b"), year_range),
        (
            re.compile(
                r"\b(?:in\s+den\s+)?(?:letzten|vergangenen)\s+(?P<n>\d+)\s+(?P<unit>tagen|wochen|monaten)\b"
            ),
            last_n,
        ),
        (
            re.compile(
                r"\b(?P<which>letzte[nrs]?|vergangene[nrs]?|diese[nrs]?)\s+(?P<unit>woche|monat|jahr)\b"
            ),
            lambda m: _relative(m, today),
        ),
        (re.compile(r"\b(?P<day>heute|gestern|vorgestern)\b"), day),
    ]


def detect_date_filter(question: str, today: date) -> DateFilter | None:
    """The first time expression in ``question`` as a date range, or None when there is none.

    A range that restricts nothing already published (it starts after today, or only ends after
    today) talks about the future in the article ("plant bis 2035"), not about when it appeared.
    """
    lowered = question.lower()
    for pattern, rule in _rules(today):
        for match in pattern.finditer(lowered):
            start, end = rule(match)
            if (start or end or today) > today or (start is None and end is not None and end >= today):
                continue
            return DateFilter(start, end, question[match.start() : match.end()].strip())
    return None


def without_covered_dates(question: str, date_from: date | None, date_to: date | None, today: date) -> str:
    """``question`` without its time expression when the date range in force covers that expression.

    Why: with the range in force every candidate was published in it, so "im März 2022" no longer
    tells articles apart, while its words still pull the query's embedding and BM25 terms towards
    headlines that name a year or a month: "building IoT 2022: Frühbucherrabatt bis Anfang April
    verlängert" outranked the "Earth Hour" article for "Bei welcher Klima-Aktion wurde im März 2022
    rund um den Globus … die Beleuchtung abgeschaltet?". An expression outside the range (the user
    chose another one) stays, as does every word when no range is in force: then it is content;
    and so does a question that asks about nothing but the time ("Was war im März 2022?").
    """
    if date_from is None and date_to is None:
        return question
    found = detect_date_filter(question, today)
    if found is None or not _covers(date_from, date_to, found):
        return question
    at = question.find(found.text)
    rest = " ".join((question[:at] + " " + question[at + len(found.text) :]).split())
    rest = re.sub(r"\s+([?!.,;:])", r"\1", rest)
    return rest if _names_something(rest) else question


def _names_something(text: str) -> bool:
    """Whether ``text`` keeps a word that is no stop word ("Was war?" does not: then the time
    expression is all the question asks about, and it stays)."""
    return any(word not in german_stop_words() for word in re.findall(r"\w+", text.lower()))


def _covers(date_from: date | None, date_to: date | None, inner: DateFilter) -> bool:
    starts_inside = date_from is None or (inner.date_from is not None and inner.date_from >= date_from)
    ends_inside = date_to is None or (inner.date_to is not None and inner.date_to <= date_to)
    return starts_inside and ends_inside
