"""Atom/RSS feeds (files or URLs) as articles, read with feedparser; optionally with each linked page.

Why heise ids from links: heise entry links end in ``-<article number>.html``, the number the
headline file uses, so a feed entry and its headline row are one article in the index. Why fetching
pages is optional: a feed carries only title and teaser; the body needs one request per entry.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

import feedparser
import lxml.html

from ingest.sources.base import (
    FirstSeen,
    SourceItem,
    UnreadableLocation,
    article_id,
    build_article,
    read_location,
    site_name,
)
from ingest.sources.fetch import InputLimits
from ingest.sources.html import html_article
from rag.core.domain import Article, Skipped

HEISE_FEED_URL = "https://www.heise.de/rss/heise-atom.xml"
_MARKUP_TYPES = ("text/html", "application/xhtml+xml")
_BLOCK_TAGS = ("p", "br", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote")


def strip_html(markup: str) -> str:
    """The text of an HTML fragment, with block boundaries as spaces and whitespace collapsed."""
    if not markup.strip():
        return ""
    root = lxml.html.fragment_fromstring(markup, create_parent="div")
    for element in root.iter(_BLOCK_TAGS):
        element.tail = " " + (element.tail or "")
    return " ".join(root.text_content().split())


def _text(entry: feedparser.FeedParserDict, key: str) -> str:
    """An entry's text field, with markup removed when the feed declares it as HTML."""
    value = entry.get(key) or ""
    detail = entry.get(f"{key}_detail") or {}
    return strip_html(value) if detail.get("type") in _MARKUP_TYPES else value


def _published(entry: feedparser.FeedParserDict) -> datetime | None:
    """The publication (else update) time; feedparser hands it over as a UTC ``struct_time``."""
    for key in ("published", "updated"):
        # dict.get: FeedParserDict.get("updated") falls back to "published" with a DeprecationWarning.
        if raw := dict.get(entry, key):
            parsed: time.struct_time | None = dict.get(entry, f"{key}_parsed")
            if parsed is None:
                raise ValueError(f"Datum {key} {raw!r} nicht lesbar")
            return datetime(*parsed[:6], tzinfo=UTC)
    return None


def _unique(values: Iterable[str | None]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(value.strip() for value in values if value and value.strip()))


def _entry_article(entry: feedparser.FeedParserDict, where: str, feed_site: str) -> SourceItem:
    link, entry_id = entry.get("link"), entry.get("id")
    if not (link or entry_id):
        return Skipped(location=where, reason="Eintrag hat weder Link noch ID")
    ids = [article_id(key) for key in (link, entry_id) if key]
    # A heise number from either the link or the entry id, else the hash of the first of them.
    heise_number = next((value for value in ids if value.isdigit()), None)
    try:
        published = _published(entry)
    except ValueError as err:
        return Skipped(location=where, reason=str(err))
    return build_article(
        where,
        id=heise_number or ids[0],
        url=link,
        title=_text(entry, "title"),
        teaser=_text(entry, "summary"),
        published_at=published,
        authors=_unique(author.get("name") for author in entry.get("authors", [])),
        section=_unique(tag.get("term") or tag.get("label") for tag in entry.get("tags", [])),
        source=(link and site_name(link)) or feed_site,
    )


def _with_page(article: Article, link: str, limits: InputLimits | None) -> tuple[Article, Skipped | None]:
    """The article with the body (and missing metadata) of its linked page; the page's problem if any."""
    page = html_article(link, limits=limits)
    if isinstance(page, Skipped):
        return article, Skipped(location=link, reason=f"Artikelseite nicht genutzt: {page.reason}")
    update = {
        "body": page.body,
        "teaser": article.teaser or page.teaser,
        "published_at": article.published_at or page.published_at,
        "authors": article.authors or page.authors,
        "section": article.section or page.section,
    }
    return article.model_copy(update=update), None


def read_feed(
    location: str | os.PathLike[str], *, fetch_articles: bool = False, limits: InputLimits | None = None
) -> Iterator[SourceItem]:
    """One article per entry (``Skipped`` per bad entry), or one ``Skipped`` for a document that is no feed.

    With ``fetch_articles`` each entry's page is fetched for the body; a page that fails is reported
    as ``Skipped`` and its entry is still yielded with the feed's title and teaser. Every fetch
    (the feed's and each page's) keeps within ``limits``, by default the settings'.
    """
    name = os.fspath(location)
    try:
        payload = read_location(name, limits=limits)
    except UnreadableLocation as err:
        yield Skipped(location=name, reason=str(err))
        return
    parsed = feedparser.parse(payload.data)  # bytes: feedparser must never fetch anything itself
    if not parsed.entries and (parsed.bozo or not parsed.get("version")):
        cause = parsed.get("bozo_exception")  # the XML parser's own (English) words, quoted as such
        detail = f"XML-Fehler `{cause}`" if cause else "keine RSS- oder Atom-Struktur"
        yield Skipped(location=name, reason=f"kein Feed: {detail}")
        return
    feed_site = site_name(parsed.feed.get("link") or name) or "feed"
    keep_first = FirstSeen()
    for number, entry in enumerate(parsed.entries, start=1):
        link = entry.get("link")
        where = link or f"{name}#entry-{number}"
        item = keep_first(_entry_article(entry, where, feed_site), where)
        if fetch_articles and link and isinstance(item, Article):
            item, problem = _with_page(item, link, limits)
            if problem:
                yield problem
        yield item
