"""What the vector index holds, for the app's status page and the CLI.

Why a separate read-only probe: the embedded Qdrant store allows one process per folder, so the
status check opens it briefly and closes it again instead of keeping a client around.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rag.settings import Settings
from rag.store import open_client


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
