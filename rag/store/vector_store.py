"""The Qdrant vector store: one collection per corpus, named dense + sparse vectors.

Why one class over three locations: embedded storage (default), `:memory:` (tests) and a server
(url, API key) share qdrant-client's API, so ingest and retrieval never branch on where the index
lives. Server calls are retried with back-off because a cluster node can be briefly unavailable.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from rag.core.payload import COMPLETENESS_FIELDS, article_key
from rag.core.settings import Settings
from rag.store.layout import CollectionLayout, StoreUnavailableError, store_in_use

if TYPE_CHECKING:
    from rag.store.edge import EdgeClient

T = TypeVar("T")


class ConfiguredClient(QdrantClient):
    """A client opened from settings; it carries the collection layout those settings ask for."""

    def __init__(self, layout: CollectionLayout, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.layout = layout


def open_client(settings: Settings) -> ConfiguredClient | EdgeClient:
    """A client for the configured store: a server by URL, else embedded storage (or memory) with
    the configured engine: qdrant-client's local mode, or Qdrant's own engine (rag/store/edge.py)."""
    layout = CollectionLayout.from_settings(settings)
    if settings.qdrant_url:
        api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        tls = {"verify": str(settings.qdrant_tls_ca_cert)} if settings.qdrant_tls_ca_cert else {}
        return ConfiguredClient(
            layout, url=settings.qdrant_url, api_key=api_key, timeout=settings.qdrant_timeout, **tls
        )
    path = settings.resolved_qdrant_path
    from rag.store.migrate import foreign_store_error  # it opens stores with this function

    if problem := foreign_store_error(settings):
        raise StoreUnavailableError(problem)
    if settings.qdrant_embedded_engine == "edge":
        from rag.store.edge import EdgeClient, EdgeSearch  # loads the Rust engine only when configured

        return EdgeClient(path, layout, EdgeSearch.from_settings(settings))
    if path == ":memory:":
        return ConfiguredClient(layout, location=":memory:")
    Path(path).mkdir(parents=True, exist_ok=True)
    try:
        return ConfiguredClient(layout, path=path)
    except RuntimeError as exc:
        if "already accessed" not in str(exc):
            raise
        raise store_in_use(path) from exc


@dataclass
class StoredArticle:
    """What the index holds of one article, to decide whether an ingest must redo it."""

    content_hash: str
    n_chunks: int
    indices: set[int]
    hashes: set[str]

    @property
    def complete(self) -> bool:
        """All chunks present, from one version of the article, and nothing left over."""
        return len(self.hashes) == 1 and self.indices == set(range(self.n_chunks))


class VectorStore:
    """Collection management, upserts and scrolls with retries; see the module docstring."""

    def __init__(
        self,
        client: QdrantClient | EdgeClient,
        collection: str,
        retries: int = 3,
        backoff: float = 0.5,
        layout: CollectionLayout | None = None,
    ) -> None:
        self.client = client
        self.collection = collection
        # The layout of new collections: given, else the one the client was opened with.
        self.layout = layout or getattr(client, "layout", None) or CollectionLayout()
        self._retries = retries
        self._backoff = backoff

    def _call(self, fn: Callable[[], T]) -> T:
        """Run a client call, retrying transient server failures; a dead server is named."""
        for attempt in range(self._retries + 1):
            try:
                return fn()
            except (ResponseHandlingException, UnexpectedResponse) as exc:
                status = getattr(exc, "status_code", None)
                if status is not None and status < 500:
                    raise
                if attempt == self._retries:
                    url = self.client.init_options.get("url")
                    raise StoreUnavailableError(
                        f"Qdrant unter {url} ist nicht erreichbar ({exc}). Läuft der Server? Sonst "
                        "HEISE_RAG_QDRANT_URL prüfen oder leeren (eingebetteter Speicher)."
                    ) from exc
                time.sleep(self._backoff * 2**attempt)
        raise AssertionError("unreachable")

    def exists(self) -> bool:
        return self._call(lambda: self.client.collection_exists(self.collection))

    def metadata(self) -> dict[str, object]:
        info = self._call(lambda: self.client.get_collection(self.collection))
        return dict(info.config.metadata or {})

    def update_metadata(self, metadata: dict[str, object]) -> None:
        """Merge keys into the collection's metadata (Qdrant merges, it does not replace)."""
        self._call(lambda: self.client.update_collection(self.collection, metadata=metadata))

    def create(self, dim: int, metadata: dict[str, object]) -> None:
        """Named dense (cosine) and sparse (BM25, IDF on the server) vectors plus payload indexes,
        laid out as ``self.layout`` says (shards, replicas, on-disk vectors, int8, HNSW)."""
        arguments = self.layout.create_arguments(dim)
        self._call(lambda: self.client.create_collection(self.collection, metadata=metadata, **arguments))
        # Local mode ignores payload indexes (and warns); they are created for parity with servers.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Payload indexes have no effect")
            self._create_payload_indexes()

    def _create_payload_indexes(self) -> None:
        for field, schema in (
            ("published_at", models.PayloadSchemaType.DATETIME),
            ("source", models.PayloadSchemaType.KEYWORD),
            ("article_id", models.PayloadSchemaType.KEYWORD),
        ):
            self._call(lambda f=field, s=schema: self.client.create_payload_index(self.collection, f, s))

    def upsert(self, points: list[models.PointStruct]) -> None:
        self._call(lambda: self.client.upsert(self.collection, points, wait=True))

    def delete(self, ids: list[str]) -> None:
        if ids:
            self._call(
                lambda: self.client.delete(self.collection, models.PointIdsList(points=ids), wait=True)
            )

    def scroll_payloads(self, fields: list[str], batch: int = 2048) -> Iterator[tuple[str, dict]]:
        """Every point's id and the named payload fields, page by page."""
        offset = None
        while True:
            points, offset = self._call(
                lambda o=offset: self.client.scroll(
                    self.collection, limit=batch, offset=o, with_payload=fields, with_vectors=False
                )
            )
            for p in points:
                yield str(p.id), p.payload or {}
            if offset is None:
                return

    def scroll_pages(self, batch: int = 256) -> Iterator[list[models.Record]]:
        """Every point with payload and vectors, one page at a time (to rewrite points in place)."""
        offset = None
        while True:
            points, offset = self._call(
                lambda o=offset: self.client.scroll(
                    self.collection, limit=batch, offset=o, with_payload=True, with_vectors=True
                )
            )
            if points:
                yield points
            if offset is None:
                return

    def stored_articles(self) -> dict[str, StoredArticle]:
        """Per article key: hash, chunk count and which chunk indices are present."""
        stored: dict[str, StoredArticle] = {}
        fields = list(COMPLETENESS_FIELDS)
        for _, payload in self.scroll_payloads(fields):
            key = article_key(payload["source"], payload["article_id"])
            entry = stored.setdefault(
                key, StoredArticle(payload["content_hash"], payload["n_chunks"], set(), set())
            )
            entry.indices.add(int(payload["chunk_index"]))
            entry.hashes.add(payload["content_hash"])
        return stored

    def count(self) -> int:
        return self._call(lambda: self.client.count(self.collection, exact=True).count)
