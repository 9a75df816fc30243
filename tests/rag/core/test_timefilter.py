from datetime import date

import pytest

from rag.core.timefilter import DateFilter, detect_date_filter, without_covered_dates

TODAY = date(2026, 11, 27)  # a Friday


@pytest.mark.parametrize(
    ("question", "start", "end", "text"),
    [
        ("Was war Anfang 2022 mit Exchange los?", date(2022, 1, 1), date(2022, 4, 30), "Anfang 2022"),
        (
            "Was geschah im Oktober 2023 bei Twitter?",
            date(2023, 10, 1),
            date(2023, 10, 31),
            "im Oktober 2023",
        ),
        ("Ende Dezember 2022 Log4j?", date(2022, 12, 21), date(2022, 12, 31), "Ende Dezember 2022"),
        ("Mitte 2023 Intel Downfall", date(2023, 5, 1), date(2023, 8, 31), "Mitte 2023"),
        ("Chips im Jahr 2022", date(2022, 1, 1), date(2022, 12, 31), "im Jahr 2022"),
        ("Was gab es letzte Woche zu Linux?", date(2026, 11, 16), date(2026, 11, 22), "letzte Woche"),
        ("Neues diese Woche?", date(2026, 11, 23), date(2026, 11, 27), "diese Woche"),
        ("Was war letzten Monat?", date(2026, 10, 1), date(2026, 10, 31), "letzten Monat"),
        ("Was ist seit März passiert?", date(2026, 3, 1), TODAY, "seit März"),
        ("seit März 2023 neue iPhones?", date(2023, 3, 1), TODAY, "seit März 2023"),
        ("Was war im Dezember?", date(2025, 12, 1), date(2025, 12, 31), "im Dezember"),
        ("Umsatz im 2. Quartal 2023", date(2023, 4, 1), date(2023, 6, 30), "im 2. Quartal 2023"),
        ("Was passierte im Winter 2023?", date(2022, 12, 1), date(2023, 2, 28), "im Winter 2023"),
        ("in den letzten 3 Wochen", date(2026, 11, 6), TODAY, "in den letzten 3 Wochen"),
        ("Was war gestern los?", date(2026, 11, 26), date(2026, 11, 26), "gestern"),
        ("Datenlecks vor 2020", None, date(2019, 12, 31), "vor 2020"),
        ("Was war letztes Jahr?", date(2025, 1, 1), date(2025, 12, 31), "letztes Jahr"),
        ("Was lief bis 2021 bei Exchange?", None, date(2021, 12, 31), "bis 2021"),
        ("Was plant Intel 2030, was sagte es 2022?", date(2022, 1, 1), date(2022, 12, 31), "2022"),
    ],
)
def test_german_time_expressions(question: str, start: date | None, end: date, text: str) -> None:
    assert detect_date_filter(question, TODAY) == DateFilter(start, end, text)


@pytest.mark.parametrize(
    "question",
    [
        "Wie funktioniert ein Passkey?",
        "Was ist Windows 11?",
        "Was kostet das iPhone 15 mit 256 GB?",
        # plans in the article's content, not its publication date
        "Wer plant bis 2035 hunderttausend Ladepunkte?",
        "Was soll im Jahr 2040 gelten?",
    ],
)
def test_no_time_expression_means_no_filter(question: str) -> None:
    assert detect_date_filter(question, TODAY) is None


def test_label_is_german_and_readable() -> None:
    assert DateFilter(date(2022, 1, 1), date(2022, 4, 30)).label == "01.01.2022 – 30.04.2022"  # noqa: RUF001
    assert DateFilter(date(2022, 1, 1), None).label == "ab 01.01.2022"


@pytest.mark.parametrize(
    ("question", "date_from", "date_to", "searched"),
    [
        # the range in force covers the expression: its words no longer tell articles apart
        (
            "Bei welcher Klima-Aktion wurde im März 2022 das Licht abgeschaltet?",
            date(2022, 3, 1),
            date(2022, 3, 31),
            "Bei welcher Klima-Aktion wurde das Licht abgeschaltet?",
        ),
        ("Was war Anfang 2022 mit Exchange?", date(2022, 1, 1), date(2022, 4, 30), "Was war mit Exchange?"),
        ("Was gab es seit März 2022 zu Log4j?", date(2022, 3, 1), None, "Was gab es zu Log4j?"),
        # another range (the user's) or none: the expression is content
        ("Was war Anfang 2022 mit Exchange los?", date(2023, 1, 1), date(2023, 12, 31), None),
        ("Was war Anfang 2022 mit Exchange los?", None, None, None),
        ("Wer gewann das Spiel?", date(2022, 1, 1), date(2022, 12, 31), None),  # no expression
        # nothing but the time is asked about
        ("Was war im März 2022?", date(2022, 3, 1), date(2022, 3, 31), None),
    ],
)
def test_the_search_leaves_out_the_time_expression_the_range_covers(
    question: str, date_from: date | None, date_to: date | None, searched: str | None
) -> None:
    assert without_covered_dates(question, date_from, date_to, TODAY) == (searched or question)
