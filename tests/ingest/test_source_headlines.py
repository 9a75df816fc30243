"""The heise headline CSV source on the real file and on broken copies written per test."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from ingest.sources.headlines import read_headlines
from rag.core.datafiles import HEADLINES_FILE
from rag.core.domain import Article, Skipped

HEADER = "id,headline,comments,time,quality\n"
BERLIN = ZoneInfo("Europe/Berlin")


def test_every_row_of_the_real_file_becomes_an_article(data_file: Callable[[str], Path]) -> None:
    items = list(read_headlines(data_file(HEADLINES_FILE)))
    assert [item for item in items if isinstance(item, Skipped)] == []
    articles = [item for item in items if isinstance(item, Article)]
    assert len(articles) == len(items) == 11_310
    assert len({article.id for article in articles}) == 11_310
    first = items[0]
    assert isinstance(first, Article)
    assert first.id == "6233916" and first.url == "https://www.heise.de/-6233916"
    assert first.title.startswith("Zentrum für KI in der Medizin")
    assert first.published_at == datetime(2023, 11, 16, 9, 20, tzinfo=BERLIN)
    assert first.comments == 1 and first.source == "heise" and first.body == "" and first.section == ()


def test_bad_rows_are_reported_with_line_and_reason_and_the_rest_is_read(tmp_path: Path) -> None:
    rows = [
        "6315605,Gute Zeile,12.0,2022-01-05 10:00:00.000000,bad",  # line 2
        "6315606,Zu wenige Spalten,3.0",  # line 3
        "6315607,,3.0,2022-01-05 10:00:00.000000,bad",  # line 4: no headline
        "6315608,Falsches Datum,3.0,gestern um zehn,bad",  # line 5
        "abc,Keine Nummer,3.0,2022-01-05 10:00:00.000000,bad",  # line 6
        "6315605,Doppelte ID,80.0,2022-01-06 10:00:00.000000,good",  # line 7
        "6315609,Kommentare?,viele,2022-01-05 10:00:00.000000,good",  # line 8
        "6315610,Noch eine gute Zeile,,2022-07-01 23:59:59.500000,bad",  # line 9
    ]
    path = tmp_path / "headlines.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    items = list(read_headlines(path))
    articles = [item for item in items if isinstance(item, Article)]
    reasons = {item.location: item.reason for item in items if isinstance(item, Skipped)}
    assert [a.id for a in articles] == ["6315605", "6315610"]
    assert articles[0].title == "Gute Zeile" and articles[1].comments is None
    assert articles[1].published_at == datetime(2022, 7, 1, 23, 59, 59, 500000, tzinfo=BERLIN)
    assert reasons.keys() == {f"{path}:{line}" for line in (3, 4, 5, 6, 7, 8)}
    assert reasons[f"{path}:3"] == "5 Spalten erwartet, 3 gefunden"
    assert "title" in reasons[f"{path}:4"] and "mindestens 1 Zeichen" in reasons[f"{path}:4"]
    assert reasons[f"{path}:5"] == "Zeitpunkt 'gestern um zehn' nicht lesbar"
    assert reasons[f"{path}:6"] == "ID 'abc' ist keine heise-Artikelnummer"
    assert reasons[f"{path}:7"] == f"doppelte ID '6315605', zuerst in {path}:2"
    assert reasons[f"{path}:8"] == "comments 'viele' ist keine Anzahl"


def test_non_utf8_bytes_cost_only_their_row_also_in_gzip(tmp_path: Path) -> None:
    data = (
        HEADER.encode()
        + "6315605,Überwachung: Gute Zeile,1.0,2022-01-05 10:00:00.000000,bad\n".encode()
        + "6315606,Kaputte \xfcberschrift,1.0,2022-01-05 10:00:00.000000,bad\n".encode("latin-1")
        + b"6315607,\x00\x01\x02,1.0,2022-01-05 10:00:00.000000,bad\n"
    )
    path = tmp_path / "headlines.csv.gz"
    path.write_bytes(gzip.compress(data))
    first, second, third = read_headlines(path)
    assert isinstance(first, Article) and first.title == "Überwachung: Gute Zeile"
    assert second == Skipped(location=f"{path}:3", reason="title: kein gültiges UTF-8 (Byte 0xfc)")
    assert third == Skipped(location=f"{path}:4", reason="title: Binärdaten (Steuerzeichen '\\x00')")


def test_a_file_that_is_not_a_headline_csv_is_one_skipped_item(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("label;text\nWeb;'Ein Artikel.'\n", encoding="utf-8")
    assert list(read_headlines(path)) == [
        Skipped(
            location=f"{path}:1",
            reason="keine heise-Schlagzeilen-CSV: Spalte(n) ['id', 'headline', 'comments', 'time'] fehlen",
        )
    ]
    (tmp_path / "empty.csv").write_bytes(b"")
    assert list(read_headlines(tmp_path / "empty.csv")) == [
        Skipped(location=str(tmp_path / "empty.csv"), reason="leere Datei, keine Kopfzeile")
    ]


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    [item] = read_headlines(tmp_path / "fehlt.csv.gz")
    assert isinstance(item, Skipped) and item.location == str(tmp_path / "fehlt.csv.gz")
    assert item.reason.startswith(
        f"{tmp_path / 'fehlt.csv.gz'} nicht lesbar: Datei oder Ordner gibt es nicht"
    )
