"""The Atom/RSS source against feeds served by a real HTTP server on loopback, and broken documents."""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.sources.feed import read_feed, strip_html
from rag.core.domain import Article, Skipped

HEISE = "https://www.heise.de/news"


def _atom(entries: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        '<title>heise online News</title><link href="https://www.heise.de/"/><id>https://www.heise.de/</id>'
        f"<updated>2024-04-19T14:00:00+02:00</updated>{entries}</feed>"
    )


def _entry(
    link: str | None, title: str, *, published: str = "2024-04-19T13:37:00+02:00", extra: str = ""
) -> str:
    link_tag = f'<link href="{link}"/>' if link else ""
    return f"<entry><title>{title}</title>{link_tag}<published>{published}</published>{extra}</entry>"


GOOD = _entry(
    f"{HEISE}/Glasfaser-Ausbau-stockt-in-Bayern-9700001.html?wt_mc=rss.red.ho.ho.atom.beitrag.beitrag",
    "Glasfaser-Ausbau stockt in Bayern",
    extra=(
        "<id>http://heise.de/-9700001</id>"
        '<summary type="html">&lt;p&gt;Der Ausbau &lt;b&gt;stockt&lt;/b&gt;.&lt;/p&gt;'
        "&lt;p&gt;Warum?&lt;/p&gt;</summary>"
        "<author><name>Dirk Knop</name></author><author><name>Andreas Wilkens</name></author>"
        '<category term="Glasfaser"/><category term="Breitband"/>'
    ),
)


@pytest.mark.usefixtures("loopback_fetches")
def test_heise_entries_become_articles_and_bad_entries_are_reported(http_root: tuple[str, Path]) -> None:
    base, root = http_root
    entries = [
        GOOD,
        _entry(f"{HEISE}/Ohne-Titel-9700002.html", ""),
        _entry(f"{HEISE}/Datum-kaputt-9700003.html", "Datum kaputt", published="gestern Abend"),
        _entry(f"{HEISE}/Glasfaser-Ausbau-stockt-in-Bayern-9700001.html", "Doppelt gemeldet"),
        _entry(None, "Weder Link noch ID"),
        _entry("https://www.example.org/artikel/zweiter-teil", "Ein Artikel woanders", published=""),
    ]
    (root / "heise-atom.xml").write_text(_atom("".join(entries)), encoding="utf-8")
    url = f"{base}/heise-atom.xml"
    items = list(read_feed(url))
    articles = [item for item in items if isinstance(item, Article)]
    skipped = [item for item in items if isinstance(item, Skipped)]
    first, other = articles
    assert first.id == "9700001" and first.source == "heise"  # the number the headline file uses
    assert first.title == "Glasfaser-Ausbau stockt in Bayern"
    assert first.teaser == "Der Ausbau stockt. Warum?"
    assert first.published_at == datetime(2024, 4, 19, 11, 37, tzinfo=UTC)
    assert first.authors == ("Dirk Knop", "Andreas Wilkens")
    assert first.section == ("Glasfaser", "Breitband")
    assert first.url is not None and first.url.startswith(
        f"{HEISE}/Glasfaser-Ausbau-stockt-in-Bayern-9700001.html"
    )
    assert other.source == "example.org" and other.id.startswith("url-") and other.published_at is None
    assert [(s.location, s.reason) for s in skipped] == [
        (f"{HEISE}/Ohne-Titel-9700002.html", "title: muss mindestens 1 Zeichen haben"),
        (f"{HEISE}/Datum-kaputt-9700003.html", "Datum published 'gestern Abend' nicht lesbar"),
        (
            f"{HEISE}/Glasfaser-Ausbau-stockt-in-Bayern-9700001.html",
            f"doppelte ID '9700001', zuerst in {first.url}",
        ),
        (f"{url}#entry-5", "Eintrag hat weder Link noch ID"),
    ]


def test_rss_file_from_another_site(tmp_path: Path) -> None:
    path = tmp_path / "golem.rss"
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Golem</title>'
        "<link>https://www.golem.de/</link><description>IT-News</description><item>"
        "<title>Neue Grafikkarten &amp; Treiber</title><link>https://www.golem.de/news/grafik-2404-184000.html</link>"
        "<description>Schneller &amp; sparsamer.</description>"
        "<pubDate>Fri, 19 Apr 2024 13:37:00 +0200</pubDate>"
        "<category>Hardware</category></item></channel></rss>",
        encoding="utf-8",
    )
    [article] = read_feed(path)
    assert isinstance(article, Article)
    assert (article.title, article.teaser, article.section) == (
        "Neue Grafikkarten & Treiber",
        "Schneller & sparsamer.",
        ("Hardware",),
    )
    assert article.source == "golem.de" and article.id.startswith("url-")
    assert article.published_at == datetime(2024, 4, 19, 11, 37, tzinfo=UTC)


@pytest.mark.usefixtures("loopback_fetches")
def test_documents_that_are_no_feed_are_one_skipped_item(
    tmp_path: Path, http_root: tuple[str, Path], data_file: Callable[[str], Path]
) -> None:
    base, root = http_root
    (root / "seite.html").write_bytes(
        data_file("fixtures/html/heise-2015-1password.source.html").read_bytes()
    )
    [html_page] = read_feed(f"{base}/seite.html")
    assert html_page == Skipped(
        location=f"{base}/seite.html", reason="kein Feed: keine RSS- oder Atom-Struktur"
    )
    garbage = tmp_path / "kaputt.xml"
    garbage.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe kein XML")
    [not_xml] = read_feed(garbage)
    assert isinstance(not_xml, Skipped) and not_xml.location == str(garbage)
    assert not_xml.reason.startswith("kein Feed: ")
    assert "not well-formed" in not_xml.reason


@pytest.mark.usefixtures("loopback_fetches")
def test_unreachable_feed_is_named() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/heise-atom.xml"
    [item] = read_feed(url)
    assert isinstance(item, Skipped) and item.location == url
    assert item.reason.startswith(f"{url} nicht abrufbar: keine Verbindung")


@pytest.mark.usefixtures("loopback_fetches")
def test_fetch_articles_adds_the_page_body_and_reports_pages_that_fail(
    http_root: tuple[str, Path], data_file: Callable[[str], Path]
) -> None:
    base, root = http_root
    (root / "news").mkdir()
    page = data_file("fixtures/html/heise-2015-1password.source.html").read_bytes()
    (root / "news" / "1Password-fuer-Mac-generiert-Einmal-Passwoerter-2596987.html").write_bytes(page)
    (root / "news" / "leer.html").write_text("<html><body><nav>Start</nav></body></html>", encoding="utf-8")
    entries = [
        _entry(
            f"{base}/news/1Password-fuer-Mac-generiert-Einmal-Passwoerter-2596987.html", "1Password für Mac"
        ),
        _entry(f"{base}/news/fehlt-2596988.html", "Seite fehlt"),
        _entry(f"{base}/news/leer.html", "Seite ohne Artikel"),
    ]
    (root / "feed.xml").write_text(_atom("".join(entries)), encoding="utf-8")
    items = list(read_feed(f"{base}/feed.xml", fetch_articles=True))
    articles = [item for item in items if isinstance(item, Article)]
    skipped = {item.location: item.reason for item in items if isinstance(item, Skipped)}
    assert [a.title for a in articles] == ["1Password für Mac", "Seite fehlt", "Seite ohne Artikel"]
    fetched = articles[0]
    assert fetched.body.startswith("AgileBits hat Version 5.3 seines bekannten Passwortmanagers")
    assert "TOTP" in fetched.section and fetched.teaser.startswith("Das in der iOS-Version")
    assert fetched.published_at == datetime(2024, 4, 19, 11, 37, tzinfo=UTC)  # the feed's date wins
    assert articles[1].body == articles[2].body == ""
    assert skipped == {
        f"{base}/news/fehlt-2596988.html": "Artikelseite nicht genutzt: "
        f"{base}/news/fehlt-2596988.html nicht abrufbar: HTTP-Fehler 404",
        f"{base}/news/leer.html": "Artikelseite nicht genutzt: kein Artikel gefunden: "
        "nur 5 Zeichen Haupttext",
    }


def test_strip_html_keeps_words_apart_at_block_boundaries() -> None:
    assert strip_html("<p>Erster Absatz.</p><p>Zweiter <i>mit</i> Betonung.</p>") == (
        "Erster Absatz. Zweiter mit Betonung."
    )
    assert strip_html("  ") == "" and strip_html("Nur Text & mehr") == "Nur Text & mehr"
