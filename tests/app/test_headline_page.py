"""The headline check: the committed classifier on real headlines, and the alternatives parser."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app.headline_alternatives import parse_alternatives
from rag.core.settings import Settings
from rag.engagement.predictor import ClassifierInfo

HEADLINES = [
    "Windows 11: Microsoft erzwingt Konto bei der Einrichtung",
    "Neue Version von LibreOffice erschienen",
]


@pytest.fixture
def headline_env(
    fresh_caches: None, isolated_env: Path, provisioned: Callable[[str], Path], settings: Settings
) -> Iterator[None]:
    provisioned("multilingual-e5-small")  # the classifier's base model
    if not (settings.classifier_model / "classifier.json").exists():
        pytest.skip(f"no engagement classifier in {settings.classifier_model}")
    yield


def check(page: AppTest, text: str) -> AppTest:
    page.text_area[0].set_value(text)
    page.button[0].click().run()
    assert not page.exception, page.exception
    return page


def test_two_headlines_are_ranked_with_a_chart_and_the_calibration_note(
    headline_env: None, app: Callable[[str], AppTest], settings: Settings
) -> None:
    page = check(app("headlines"), "\n".join(HEADLINES) + "\n\n")
    table = page.dataframe[0].value
    assert sorted(table["Schlagzeile"]) == sorted(HEADLINES)
    assert list(table["Rang"]) == [1, 2]
    p = list(table["p(viele Kommentare)"])
    assert p == sorted(p, reverse=True) and all(0 < v < 1 for v in p)
    assert table["Schlagzeile"][0] == HEADLINES[0]  # an account obligation draws the forum, a release not
    assert page.get("vega_lite_chart")
    info = ClassifierInfo.load(settings.classifier_model)
    assert "kalibriert" in page.info[0].value and f"Temperatur {info.temperature:.2f}" in page.info[0].value
    assert f"Genauigkeit {info.training['blend']['test']['accuracy']:.1%}" in page.info[0].value
    assert "gemischt mit einem TF-IDF-Modell" in page.info[0].value


@pytest.mark.parametrize(
    ("text", "kind", "message"),
    [
        ("  \n ", "warning", "Bitte mindestens eine Schlagzeile eingeben."),
        ("Gute Schlagzeile\n" + "x" * 400, "error", "Schlagzeile 2: Schlagzeile ist zu lang"),
        ("🙂🙂", "error", "Schlagzeile 1: Schlagzeile enthält keine Buchstaben"),
    ],
)
def test_bad_headlines_get_a_german_message(
    headline_env: None, app: Callable[[str], AppTest], text: str, kind: str, message: str
) -> None:
    page = check(app("headlines"), text)
    assert message in getattr(page, kind)[0].value.replace("\\", "")
    assert not page.dataframe


def test_model_lines_become_clean_distinct_alternatives() -> None:
    text = (
        "Hier sind drei Vorschläge:\n"
        '1. "Microsoft macht das Konto für Windows 11 zur Pflicht"\n'
        "- Windows 11 ohne Microsoft-Konto? Nicht mehr\n"
        "2) windows 11: microsoft erzwingt konto bei der einrichtung\n"
        "• ???\n"
        "Schlagzeile 3: Kontozwang bei Windows 11\n"
        "Noch eine vierte Schlagzeile\n"
    )
    assert parse_alternatives(text, HEADLINES[0]) == [
        "Microsoft macht das Konto für Windows 11 zur Pflicht",
        "Windows 11 ohne Microsoft-Konto? Nicht mehr",
        "Kontozwang bei Windows 11",
    ]


def test_alternatives_from_the_answer_model_are_scored_too(
    headline_env: None,
    app: Callable[[str], AppTest],
    provisioned: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    provisioned("tiny-random-llama")  # fast; its random words are headlines only by form
    monkeypatch.setenv("HEISE_RAG_GENERATOR_MODEL", "tiny-random-llama")
    page = app("headlines")
    page.checkbox[0].check()
    check(page, HEADLINES[0])
    origins = list(page.dataframe[0].value["Herkunft"])
    assert origins.count("eingegeben") == 1
    suggested = origins.count("Vorschlag des Modells")
    assert suggested <= 3 and (suggested == 3 or "brauchbare Alternativen" in page.warning[0].value)
