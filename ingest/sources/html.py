"""Article pages (HTML files, ``.html.gz`` or URLs) as articles, extracted with trafilatura.

Why trafilatura: it finds the main text of arbitrary news pages and reads their metadata (canonical
URL, date, authors, keywords) without per-site rules. Its output is then tidied where heise pages
trip it up: the title, teaser and dateline repeated at the top of the text, and the site's own name
given as an author.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from urllib.parse import urljoin

import trafilatura
from trafilatura.settings import Document

from ingest.sources.base import (
    Payload,
    SourceItem,
    UnreadableLocation,
    article_id,
    as_aware,
    build_article,
    is_url,
    read_location,
    site_name,
)
from ingest.sources.fetch import InputLimits
from rag.core.domain import Skipped

# Less text than this is what is left of a page without an article (menus, banners, a teaser).
MIN_BODY_CHARS = 200
_DATE_PARAMS = {"original_date": True, "extensive_search": True, "outputformat": "%Y-%m-%dT%H:%M:%S%z"}
_DECLARED_CHARSET = re.compile(
    rb"""<\?xml[^>]+encoding\s*=\s*["']([\w.:-]+)|<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE
)
# heise's page furniture that trafilatura keeps as text lines: the dateline ("08.04.2015 12:46")
# and the editor's initials closing each article ("(bsc)").
_FURNITURE = re.compile(r"\d{1,2}\.\d{1,2}\.\d{4},?( \d{1,2}:\d{2}( Uhr)?)?|\([a-z]{2,5}\)")


def decode_html(payload: Payload) -> str:
    """The page as text in its declared charset (HTTP header, XML declaration or ``<meta>``).

    An undeclared page is UTF-8 when it decodes as such, else windows-1252 (what browsers assume for
    German pages). Undecodable bytes become U+FFFD: a few broken bytes do not cost the article.
    """
    charset = payload.charset
    if not charset and (declared := _DECLARED_CHARSET.search(payload.data[:4096])):
        charset = (declared.group(1) or declared.group(2)).decode("ascii")
    if not charset:
        try:
            return payload.data.decode("utf-8")
        except UnicodeDecodeError:
            charset = "windows-1252"
    try:
        return payload.data.decode(charset, errors="replace")
    except LookupError:  # an unknown charset name
        return payload.data.decode("utf-8", errors="replace")


def _normalized(text: str) -> str:
    return " ".join(text.split()).casefold()


def _paragraphs(text: str, title: str, teaser: str) -> list[str]:
    """The text's paragraphs without title and teaser (kept in their own fields) and page furniture."""
    repeated = {_normalized(title), _normalized(teaser)}
    lines = (" ".join(line.split()) for line in text.splitlines())
    return [
        line
        for line in lines
        if line and _normalized(line) not in repeated and not _FURNITURE.fullmatch(line)
    ]


def _split(values: list[str], separator: str) -> tuple[str, ...]:
    """trafilatura joins authors (``;``) and keywords (``,``) into single strings; split, drop repeats."""
    items = (item.strip() for value in values for item in value.split(separator))
    return tuple(dict.fromkeys(item for item in items if item))


def _authors(author: str | None, sitename: str | None) -> tuple[str, ...]:
    """The named authors, without the site name that pages often give as author ("heise online")."""
    site_words = set(_normalized(sitename or "").split())
    names = _split([author] if author else [], ";")
    return tuple(name for name in names if not set(_normalized(name).split()) <= site_words)


def _published(value: str | None) -> datetime | None:
    try:
        return as_aware(datetime.fromisoformat(value)) if value else None
    except ValueError:
        return None


def _canonical_url(found: str | None, page_url: str | None) -> str | None:
    """The page's canonical/og URL made absolute against where it was fetched from; None if unknown."""
    url = urljoin(page_url or "", found or "") or page_url
    return url if url and is_url(url) else None


def extract_article(html: str, location: str, *, page_url: str | None = None) -> SourceItem:
    """The article in ``html`` (read from ``location``), or ``Skipped`` when the page holds none."""
    document = trafilatura.bare_extraction(
        html,
        url=page_url,
        with_metadata=True,
        include_comments=False,
        favor_precision=True,
        date_extraction_params=_DATE_PARAMS,
    )
    # A Document (never the dict form, as_dict is off), or None when nothing was found.
    if not isinstance(document, Document) or not document.text or not document.text.strip():
        return Skipped(
            location=location, reason="kein Artikel gefunden: die Seite hat keinen erkennbaren Haupttext"
        )
    title, teaser = document.title or "", document.description or ""
    body = "\n\n".join(_paragraphs(document.text, title, teaser))
    if len(body) < MIN_BODY_CHARS:
        return Skipped(location=location, reason=f"kein Artikel gefunden: nur {len(body)} Zeichen Haupttext")
    url = _canonical_url(document.url, page_url)
    return build_article(
        location,
        id=article_id(url or Path(location).resolve().as_uri()),
        url=url,
        title=title,
        teaser=teaser,
        body=body,
        published_at=_published(document.date),
        authors=_authors(document.author, document.sitename),
        section=_split([*(document.categories or []), *(document.tags or [])], ","),
        source=(url and site_name(url)) or "html",
    )


def html_article(location: str | os.PathLike[str], *, limits: InputLimits | None = None) -> SourceItem:
    """The article of one page (file or URL, read within ``limits``), or ``Skipped`` naming the problem."""
    name = os.fspath(location)
    try:
        payload = read_location(name, limits=limits)
    except UnreadableLocation as err:
        return Skipped(location=name, reason=str(err))
    return extract_article(decode_html(payload), name, page_url=name if is_url(name) else None)


def read_html(location: str | os.PathLike[str]) -> Iterator[SourceItem]:
    """The registry's interface to ``html_article``: one page, one item."""
    yield html_article(location)
