"""A store client shared by a writer thread and readers: one call into it at a time.

Why: the app builds the default index in a background thread while readers already ask over the same
client (the embedded store allows one client per process). qdrant-client's local mode keeps its points
in numpy arrays that an upsert grows under a running query ("operands could not be broadcast together
with shapes (501,) (502,)"); Qdrant's engine and a server are safe, but a call costs milliseconds
there, so serializing every client the same way costs nothing worth a second code path. The embedding,
the slow part of an ingest, happens outside client calls and still runs beside the readers.
"""

from __future__ import annotations

import functools
import threading
from typing import Any


class SharedClient:
    """Wraps a Qdrant client (or the edge adapter); each method call holds one re-entrant lock."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.RLock()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        @functools.wraps(attribute)
        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return attribute(*args, **kwargs)

        return call
