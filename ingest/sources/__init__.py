"""Ingest sources by CLI name, each turning one path or URL into articles and ``Skipped`` reports."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ingest.sources.base import SourceItem
from ingest.sources.feed import HEISE_FEED_URL, read_feed
from ingest.sources.gnad import read_gnad
from ingest.sources.headlines import read_headlines
from ingest.sources.html import read_html
from ingest.sources.jsonl import read_jsonl
from ingest.sources.squad import read_squad
from rag.core.datafiles import GNAD_FILE, HEADLINES_FILE, XQUAD_FILE
from rag.core.settings import Settings, get_settings

SOURCES: dict[str, Callable[[str], Iterator[SourceItem]]] = {
    "headlines": read_headlines,
    "10kgnad": read_gnad,
    "feed": read_feed,
    "html": read_html,
    "jsonl": read_jsonl,
    "squad": read_squad,
}


def default_locations(settings: Settings | None = None) -> dict[str, str]:
    """Where the sources that have a default read from; a function, so settings are read when used."""
    data_dir = (settings or get_settings()).resolved_data_dir
    return {
        "headlines": str(data_dir / HEADLINES_FILE),
        "10kgnad": str(data_dir / GNAD_FILE),
        "feed": HEISE_FEED_URL,
        "squad": str(data_dir / XQUAD_FILE),
    }
