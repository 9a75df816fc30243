"""What every ingest source shares: the item type, reading an input, and turning fields into articles.

Why one module: every source must report a bad item as ``Skipped`` (with where it was and why)
instead of raising, so that one broken row never costs the rest of a batch. Reading files or URLs,
screening text for undecodable bytes, validating an ``Article`` and dropping duplicate ids are the
places where that goes wrong, so they are written once here and every source uses them.
"""

from __future__ import annotations

import hashlib
import os
import re
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import ValidationError

from ingest.sources.fetch import FetchError, InputLimits, fetch, gunzip
from rag.core.csv_lines import BrokenLine, csv_lines
from rag.core.domain import BERLIN, Article, Skipped
from rag.core.german import os_error_reason, validation_reason
from rag.core.settings import get_settings

SourceItem = Article | Skipped
"""What a source yields: an article, or an input item it could not use."""

_GZIP_MAGIC = b"\x1f\x8b"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# heise article numbers have 4+ digits; shorter suffixes ("...-Teil-2") are part of a title.
_HEISE_ID = re.compile(r"-(\d{4,})(?:\.html?)?$")


class UnreadableLocation(Exception):
    """A whole input (file or URL) could not be read; the message names it and the cause."""


@dataclass(frozen=True)
class Payload:
    """The bytes of one input, and the charset a web server declared for them (files have none)."""

    data: bytes
    charset: str | None = None


def is_url(location: str) -> bool:
    return urlsplit(location).scheme in ("http", "https")


def read_location(location: str | os.PathLike[str], *, limits: InputLimits | None = None) -> Payload:
    """Read a file or an http(s) URL, gunzipping gzip data, so every source accepts both and ``.gz``.

    Everything is read within ``limits`` (by default the settings'): URLs only from public
    addresses unless allowed, with bounded size, time and redirects; gzip data up to a cap.
    """
    name = os.fspath(location)
    limits = limits or InputLimits.from_settings(get_settings())
    try:
        payload = Payload(*fetch(name, limits)) if is_url(name) else Payload(Path(name).read_bytes())
        if payload.data.startswith(_GZIP_MAGIC):
            payload = Payload(gunzip(payload.data, limits.max_decompressed_bytes), payload.charset)
    except (OSError, EOFError, zlib.error, FetchError, httpx.HTTPError, httpx.InvalidURL) as err:
        verb = "abrufbar" if is_url(name) else "lesbar"
        raise UnreadableLocation(f"{name} nicht {verb}: {_unreadable_reason(err)}") from err
    return payload


def _unreadable_reason(err: Exception) -> str:
    """Why an input could not be read, in German: the project's own refusals as they are worded,
    the errors of the OS, zlib and httpx (English) by their kind."""
    if isinstance(err, FetchError):
        return str(err)
    if isinstance(err, OSError):
        return os_error_reason(err)
    if isinstance(err, EOFError | zlib.error):
        return "beschädigte gzip-Daten"
    if isinstance(err, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return "ungültige URL"
    if isinstance(err, httpx.TooManyRedirects):
        return "zu viele Weiterleitungen"
    if isinstance(err, httpx.TimeoutException):
        return "Zeitüberschreitung"
    if isinstance(err, httpx.ConnectError):
        return "keine Verbindung zum Server (Name nicht auflösbar oder Verbindung abgelehnt)"
    return f"Netzwerkfehler ({type(err).__name__})"


def read_text(name: str) -> str | Skipped:
    """The decoded text of a whole input, or one ``Skipped`` naming it when it cannot be read."""
    try:
        return decode_text(read_location(name).data)
    except UnreadableLocation as err:
        return Skipped(location=name, reason=str(err))


def decode_text(data: bytes) -> str:
    """UTF-8 text that keeps undecodable bytes as surrogates, so only the record holding them is lost."""
    return data.decode("utf-8-sig", errors="surrogateescape")


def text_problem(text: str) -> str | None:
    """Why ``text`` is not usable text (undecodable bytes, binary data), or None when it is."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        code = ord(err.object[err.start])
        if 0xDC80 <= code <= 0xDCFF:  # a byte kept by decode_text's surrogateescape
            return f"kein gültiges UTF-8 (Byte 0x{code - 0xDC00:02x})"
        return "kein gültiges UTF-8 (einzelnes Surrogat)"
    if match := _CONTROL.search(text):
        return f"Binärdaten (Steuerzeichen {match.group()!r})"
    return None


def _texts(fields: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for name, value in fields.items():
        if isinstance(value, str):
            yield name, value
        elif isinstance(value, tuple | list):
            yield from ((f"{name}[{i}]", item) for i, item in enumerate(value) if isinstance(item, str))


def fields_problem(fields: Mapping[str, Any]) -> str | None:
    """The first text field holding undecodable bytes or binary data, with the problem, else None."""
    for name, text in _texts(fields):
        if problem := text_problem(text):
            return f"{name}: {problem}"
    return None


def screen(article: Article, location: str) -> SourceItem:
    """The article, or ``Skipped`` when one of its texts holds binary data (JSON can escape it in)."""
    if problem := fields_problem(dict(article)):
        return Skipped(location=location, reason=problem)
    return article


def build_article(location: str, **fields: Any) -> SourceItem:
    """An ``Article`` from ``fields``, or ``Skipped`` saying which field is bad text or fails validation.

    Text is screened first: pydantic would reject undecodable bytes too, but without naming the byte.
    """
    if problem := fields_problem(fields):
        return Skipped(location=location, reason=problem)
    try:
        return Article(**fields)
    except ValidationError as err:
        return Skipped(location=location, reason=validation_reason(err))


class FirstSeen:
    """Passes the first article with each id and reports later ones, as ids must be unique per source."""

    def __init__(self) -> None:
        self._where: dict[str, str] = {}

    def __call__(self, item: SourceItem, location: str) -> SourceItem:
        if isinstance(item, Skipped):
            return item
        if first := self._where.get(item.id):
            return Skipped(location=location, reason=f"doppelte ID {item.id!r}, zuerst in {first}")
        self._where[item.id] = location
        return item


def csv_rows(name: str, text: str, **fmtparams: Any) -> Iterator[tuple[int, list[str]] | Skipped]:
    """``(line number, fields)`` per non-blank line; a line csv cannot parse is ``Skipped`` (``file:line``).

    The lines are read by ``rag.core.csv_lines``, the reader ``predict-headline`` uses too: one
    unbalanced quote costs only its own line.
    """
    for row in csv_lines(text, **fmtparams):
        if isinstance(row, BrokenLine):
            yield Skipped(location=f"{name}:{row.line}", reason=f"fehlerhafte CSV-Zeile: {row.error}")
        else:
            yield row


def as_aware(value: datetime) -> datetime:
    """``value`` with heise's local zone attached when it carries no offset."""
    return value if value.tzinfo else value.replace(tzinfo=BERLIN)


def is_heise(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host == "heise.de" or host.endswith(".heise.de")


def article_id(url: str) -> str:
    """heise's article number for heise URLs (so ids match the headline file), else a hash of the URL."""
    if is_heise(url) and (match := _HEISE_ID.search(urlsplit(url).path)):
        return match.group(1)
    return "url-" + hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


def site_name(url: str) -> str | None:
    """``heise`` for heise URLs, otherwise the host without ``www.``; None for a URL without a host."""
    if is_heise(url):
        return "heise"
    host = urlsplit(url).hostname
    return host.removeprefix("www.") if host else None
