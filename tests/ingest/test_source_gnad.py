"""The 10kGNAD source on the real test split and on broken rows written per test."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from ingest.sources.gnad import TITLE_MAX_CHARS, read_gnad, shorten, split_lead
from rag.core.datafiles import GNAD_FILE
from rag.core.domain import Article, Skipped


def test_every_row_of_the_real_file_becomes_an_article(data_file: Callable[[str], Path]) -> None:
    path = data_file(GNAD_FILE)
    items = list(read_gnad(path))
    assert all(isinstance(item, Article) for item in items)
    articles = [item for item in items if isinstance(item, Article)]
    assert len(articles) == 1_028
    assert [a.id for a in articles[:2]] == ["10kgnad-test-1", "10kgnad-test-2"]
    assert articles[-1].id == "10kgnad-test-1028"
    assert Counter(a.section for a in articles)[("Web",)] == 168
    assert {a.source for a in articles} == {"derstandard"}
    assert all(a.url is None and a.published_at is None for a in articles)
    assert all(len(a.title) <= TITLE_MAX_CHARS and a.title.rstrip("…") in a.teaser for a in articles)
    first = articles[0]
    assert first.teaser == (
        'Die Gewerkschaft GPA-djp lanciert den "All-in-Rechner" und findet, dass die Vertragsform auf die '
        "Führungsebene beschränkt gehört."
    )
    assert first.body.startswith("Wien \u2013 Die Gewerkschaft GPA-djp sieht Handlungsbedarf")
    # Reading again gives the same ids: they come from file name and line.
    assert [a.id for a in read_gnad(path) if isinstance(a, Article)] == [a.id for a in articles]


@pytest.mark.parametrize(
    ("text", "lead"),
    [
        ("Am 21. August kam es zum Streit. Wien - Danach.", "Am 21. August kam es zum Streit."),
        ("Elisabeth S. hat geklagt. Wien - Das Gericht.", "Elisabeth S. hat geklagt."),
        (
            "Von St. Pölten nach Linz, z.B. per Bahn. Linz - Der Zug.",
            "Von St. Pölten nach Linz, z.B. per Bahn.",
        ),
        (
            "Bußgeld für Absprachen bis Juli 2011. Traun - Das Kartellgericht.",
            "Bußgeld für Absprachen bis Juli 2011.",
        ),
        ('Er fragte: "Warum?" Dann ging er.', 'Er fragte: "Warum?"'),
        ("Nur ein Satz ohne Ende", "Nur ein Satz ohne Ende"),
    ],
)
def test_lead_is_cut_at_a_sentence_boundary(text: str, lead: str) -> None:
    assert split_lead(text)[0] == lead
    assert " ".join(part for part in split_lead(text) if part) == text


def test_long_leads_are_shortened_at_a_word_boundary() -> None:
    title = shorten("Wort " * 100)
    assert len(title) <= TITLE_MAX_CHARS and title.endswith("Wort…")


def test_bad_rows_are_reported_with_line_and_reason_and_the_rest_is_read(tmp_path: Path) -> None:
    path = tmp_path / "train.csv"
    path.write_bytes(
        b"Web;'Apple zeigt neue Macs. Cupertino \xe2\x80\x93 Das Unternehmen hat neue Rechner vorgestellt.'\n"
        b"Web;'Ein Text';'eine dritte Spalte'\n"  # line 2
        b"Sport;''\n"  # line 3
        b";'Text ohne Label.'\n"  # line 4
        b"Web;'Kaputtes \xfc im Text.'\n"  # line 5
        b"Web;'Bin\x00\x00\x01\x02\x03'\n"  # line 6
        b"\n"
        b"Kultur;'Ein Konzert in Wien. Wien \xe2\x80\x93 Es war laut.'\n"  # line 8
        b"Web;'Ein Zitat ohne Ende.\n"  # line 9: must not swallow line 10
        b"Web;'Die letzte Zeile. Sie bleibt.'\n"  # line 10
    )
    items = list(read_gnad(path))
    articles = [item for item in items if isinstance(item, Article)]
    reasons = {item.location: item.reason for item in items if isinstance(item, Skipped)}
    assert [(a.id, a.title, a.section) for a in articles] == [
        ("10kgnad-train-1", "Apple zeigt neue Macs.", ("Web",)),
        ("10kgnad-train-8", "Ein Konzert in Wien.", ("Kultur",)),
        ("10kgnad-train-10", "Die letzte Zeile.", ("Web",)),
    ]
    assert articles[0].body == "Cupertino \u2013 Das Unternehmen hat neue Rechner vorgestellt."
    assert reasons == {
        f"{path}:2": "2 Spalten erwartet (label;text), 3 gefunden",
        f"{path}:3": "leerer Text",
        f"{path}:4": "leeres Label",
        f"{path}:5": "title: kein gültiges UTF-8 (Byte 0xfc)",
        f"{path}:6": "title: Binärdaten (Steuerzeichen '\\x00')",
        f"{path}:9": "fehlerhafte CSV-Zeile: Anführungszeichen nicht geschlossen",
    }
