"""What the vector index holds, for the app's status page and the CLI.

Why a separate read-only probe: the embedded Qdrant store allows one process per folder, so the
status check opens it briefly and closes it again instead of keeping a client around.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from rag.core.payload import article_key
from rag.core.plausibility import date_problem
from rag.core.settings import Settings
from rag.store.vector_store import VectorStore, open_client


@dataclass(frozen=True)
class IndexStatus:
    """Where the index lives and what it holds; ``error`` names the cause when it cannot be read."""

    location: str
    mode: str
    collections: dict[str, int] = field(default_factory=dict)
    error: str | None = None


def index_status(settings: Settings) -> IndexStatus:
    """Collections and their point counts, or a clear error naming the store that failed."""
    mode = "server" if settings.qdrant_url else "embedded"
    location = settings.qdrant_url or settings.resolved_qdrant_path
    try:
        client = open_client(settings)
    except Exception as exc:  # any failure to connect or lock is shown, not raised, on a status page
        return IndexStatus(location, mode, error=f"Qdrant at {location} unavailable: {exc}")
    try:
        names = [c.name for c in client.get_collections().collections]
        counts = {name: client.count(name, exact=True).count for name in sorted(names)}
    except Exception as exc:
        return IndexStatus(location, mode, error=f"Qdrant at {location} unreadable: {exc}")
    finally:
        client.close()
    return IndexStatus(location, mode, counts)


@dataclass(frozen=True)
class CollectionStats:
    """Size and coverage of one collection, for `heise-rag index stats` and the app's index page."""

    points: int
    articles: int
    sources: dict[str, int]
    date_min: datetime | None
    date_max: datetime | None
    disk_bytes: int | None
    implausible_dates: int
    """Articles dated before 1995 or in the future; ``date_min``/``date_max`` leave them out."""


def collection_stats(store: VectorStore, settings: Settings) -> CollectionStats:
    """Scroll the payloads once; disk size is known only for the embedded store.

    The date range covers plausible dates only: one article dated year 1 or 2099 would otherwise
    make the range say nothing; such articles are counted instead.
    """
    articles: dict[str, str | None] = {}
    points = 0
    for _, payload in store.scroll_payloads(["source", "article_id", "published_at"]):
        points += 1
        articles[article_key(payload["source"], payload["article_id"])] = payload.get("published_at")
    sources = Counter(key.split(":", 1)[0] for key in articles)
    known = [datetime.fromisoformat(d) for d in articles.values() if d]
    dates = sorted(d for d in known if date_problem(d) is None)
    disk = None
    if not settings.qdrant_url and settings.resolved_qdrant_path != ":memory:":
        folder = Path(settings.resolved_qdrant_path) / "collection" / store.collection
        disk = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) if folder.exists() else 0
    return CollectionStats(
        points=points,
        articles=len(articles),
        sources=dict(sorted(sources.items())),
        date_min=dates[0] if dates else None,
        date_max=dates[-1] if dates else None,
        disk_bytes=disk,
        implausible_dates=len(known) - len(dates),
    )
