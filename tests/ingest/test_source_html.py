"""The HTML page source against real heise pages with known extractions, and against broken pages."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import lxml.html
import pytest

from ingest.sources.html import read_html
from rag.core.domain import Article, Skipped

FIXTURES = "fixtures/html"
BODY = "<p>" + "Die Bundesnetzagentur prüft den Glasfaserausbau in Süddeutschland genauer. " * 5 + "</p>"
PAGE = (
    "<html><head>{meta}<title>Glasfaser: Prüfung läuft</title></head><body><nav><a href='/'>Start</a></nav>"
    "<article><h1>Glasfaser: Prüfung läuft</h1>" + BODY + "</article></body></html>"
)


def _normalized(text: str) -> str:
    return " ".join(text.split())


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def _only(items: list[Article | Skipped]) -> Article:
    [item] = items
    assert isinstance(item, Article), item
    return item


def test_heise_2015_page_matches_readabilitys_extraction(data_file: Callable[[str], Path]) -> None:
    article = _only(list(read_html(data_file(f"{FIXTURES}/heise-2015-1password.source.html"))))
    metadata = json.loads(data_file(f"{FIXTURES}/heise-2015-1password.expected-metadata.json").read_text())
    expected = lxml.html.fromstring(data_file(f"{FIXTURES}/heise-2015-1password.expected.html").read_text())
    assert article.title == metadata["title"]
    assert article.teaser == metadata["excerpt"]
    # The page states 2015-04-08T12:46:00 in heise's local time (readability reports no date).
    assert article.published_at == datetime(2015, 4, 8, 12, 46, tzinfo=ZoneInfo("Europe/Berlin"))
    assert article.id == "2596987" and article.source == "heise"
    assert (
        article.url
        == "http://www.heise.de/mac-and-i/meldung/1Password-fuer-Mac-generiert-Einmal-Passwoerter-2596987.html"
    )
    assert {"1Password", "TOTP", "Passwortmanager"} <= set(article.section)
    assert article.authors == ()  # the byline "Mac & i" is the site's name, not an author
    extracted = set(_words(f"{article.title} {article.teaser} {article.body}"))
    expected_words = _words(expected.text_content())
    recall = sum(word in extracted for word in expected_words) / len(expected_words)
    assert recall >= 0.95  # measured: 0.98 (only the image caption is left out)
    assert article.body.startswith("AgileBits hat Version 5.3")


def test_heise_2024_page_matches_fundus_extraction(data_file: Callable[[str], Path]) -> None:
    article = _only(list(read_html(data_file(f"{FIXTURES}/heise-2024-ionos-phishing.html.gz"))))
    expected = json.loads(data_file(f"{FIXTURES}/heise-2024-ionos-phishing.expected.json").read_text())["V1"]
    assert article.title == expected["title"]
    assert list(article.authors) == expected["authors"]
    assert article.published_at == datetime.fromisoformat(expected["publishing_date"])
    assert article.teaser == _normalized(expected["body"]["summary"][0])
    assert set(expected["topics"]) <= set(article.section)
    sections = expected["body"]["sections"]
    paragraphs = [_normalized(p) for section in sections for p in section["headline"] + section["paragraphs"]]
    body = [_normalized(p) for p in article.body.split("\n\n")]
    recall = sum(p in body for p in paragraphs) / len(paragraphs)
    precision = sum(p in paragraphs for p in body) / len(body)
    assert recall >= 0.9 and precision >= 0.9  # measured: 7/7 and 7/7


def test_non_utf8_pages_are_decoded_with_their_charset_or_a_fallback(tmp_path: Path) -> None:
    pages = {
        "meta.html": PAGE.format(meta="<meta charset='iso-8859-1'>").encode("latin-1"),
        "xml.html": ('<?xml version="1.0" encoding="iso-8859-1"?>' + PAGE.format(meta="")).encode("latin-1"),
        "undeclared.html": PAGE.format(meta="").encode("cp1252"),
        "unknown-charset.html": PAGE.format(meta="<meta charset='klingonisch'>").encode("latin-1"),
    }
    for name, data in pages.items():
        (tmp_path / name).write_bytes(data)
        article = _only(list(read_html(tmp_path / name)))
        if name == "unknown-charset.html":  # falls back to UTF-8 with replacement characters
            assert article.title == "Glasfaser: Pr\ufffdfung l\ufffduft"
        else:
            assert article.title == "Glasfaser: Prüfung läuft", name
            assert "Süddeutschland" in article.body
        assert article.url is None and article.id.startswith("url-") and article.source == "html"


def test_pages_without_an_article_are_skipped_with_reason(tmp_path: Path) -> None:
    pages = {
        "navigation.html": b"<html><head><title>heise online</title></head><body><nav><a href='/'>Start</a>"
        b"<a href='/news'>News</a></nav><div>Wir verwenden Cookies.</div><footer>Impressum</footer>"
        b"</body></html>",
        "binary.html": bytes(range(256)) * 20 + random.Random(0).randbytes(2000),
        "empty.html": b"",
    }
    for name, data in pages.items():
        (tmp_path / name).write_bytes(data)
        [item] = read_html(tmp_path / name)
        assert isinstance(item, Skipped), name
        assert item.location == str(tmp_path / name) and item.reason.startswith("kein Artikel gefunden"), item


@pytest.mark.usefixtures("loopback_fetches")
def test_pages_are_fetched_from_urls_and_errors_name_the_url(
    http_root: tuple[str, Path], data_file: Callable[[str], Path]
) -> None:
    base, root = http_root
    (root / "artikel.html.gz").write_bytes(
        data_file(f"{FIXTURES}/heise-2024-ionos-phishing.html.gz").read_bytes()
    )
    article = _only(list(read_html(f"{base}/artikel.html.gz")))
    assert article.id == "9691259" and article.source == "heise"  # the canonical URL, not the served one
    [missing] = read_html(f"{base}/fehlt.html")
    assert missing == Skipped(
        location=f"{base}/fehlt.html",
        reason=f"{base}/fehlt.html nicht abrufbar: HTTP-Fehler 404",
    )
