"""The Qdrant vector store: one collection per corpus, named dense + sparse vectors.

Why one class over three locations: embedded storage (default), `:memory:` (tests) and a server
(url, API key) share qdrant-client's API, so ingest and retrieval never branch on where the index
lives. Server calls are retried with back-off because a cluster node can be briefly unavailable.
"""

from __future__ import annotations

import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from rag.settings import Settings

if TYPE_CHECKING:
    from rag.store_edge import EdgeClient

DENSE = "dense"
SPARSE = "bm25"
POINT_NAMESPACE = uuid.UUID("5b0c3f52-7d3e-4f55-9a59-8d7e1e6f0a11")
T = TypeVar("T")


class StoreUnavailableError(RuntimeError):
    """The configured Qdrant store cannot be opened; the message names it and the remedy."""


@dataclass(frozen=True)
class CollectionLayout:
    """How a new collection is laid out: sharding, replication, vector storage and the HNSW index.

    Why a value of its own: the same ingest code creates collections in the embedded store (where
    qdrant-client ignores the server parts) and on a cluster, where these choices decide memory
    per million chunks and how many node failures the index survives (infra/README.md).
    """

    shards: int = 1
    replication_factor: int = 1
    write_consistency: int = 1
    on_disk_vectors: bool = False
    quantization: Literal["none", "int8"] = "none"
    hnsw_m: int = 16
    hnsw_ef_construct: int = 100

    @classmethod
    def from_settings(cls, settings: Settings) -> CollectionLayout:
        return cls(
            shards=settings.qdrant_shards,
            replication_factor=settings.qdrant_replication_factor,
            write_consistency=settings.qdrant_write_consistency,
            on_disk_vectors=settings.qdrant_on_disk_vectors,
            quantization=settings.qdrant_quantization,
            hnsw_m=settings.qdrant_hnsw_m,
            hnsw_ef_construct=settings.qdrant_hnsw_ef_construct,
        )

    def create_arguments(self, dim: int) -> dict[str, Any]:
        """Keyword arguments of `create_collection` for named dense (cosine) + sparse (BM25) vectors."""
        quantization = (
            models.ScalarQuantization(
                scalar=models.ScalarQuantizationConfig(
                    type=models.ScalarType.INT8, quantile=0.99, always_ram=True
                )
            )
            if self.quantization == "int8"
            else None
        )
        dense = models.VectorParams(
            size=dim,
            distance=models.Distance.COSINE,
            on_disk=self.on_disk_vectors,
            hnsw_config=models.HnswConfigDiff(m=self.hnsw_m, ef_construct=self.hnsw_ef_construct),
            quantization_config=quantization,
        )
        return {
            "vectors_config": {DENSE: dense},
            "sparse_vectors_config": {SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
            "shard_number": self.shards,
            "replication_factor": self.replication_factor,
            "write_consistency_factor": self.write_consistency,
        }


class ConfiguredClient(QdrantClient):
    """A client opened from settings; it carries the collection layout those settings ask for."""

    def __init__(self, layout: CollectionLayout, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.layout = layout


def open_client(settings: Settings) -> ConfiguredClient | EdgeClient:
    """A client for the configured store: a server by URL, else embedded storage (or memory) with
    the configured engine: qdrant-client's local mode, or Qdrant's own engine (rag/store_edge.py)."""
    layout = CollectionLayout.from_settings(settings)
    if settings.qdrant_url:
        api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        tls = {"verify": str(settings.qdrant_tls_ca_cert)} if settings.qdrant_tls_ca_cert else {}
        return ConfiguredClient(
            layout, url=settings.qdrant_url, api_key=api_key, timeout=settings.qdrant_timeout, **tls
        )
    path = settings.resolved_qdrant_path
    if settings.qdrant_embedded_engine == "edge":
        from rag.store_edge import EdgeClient  # imports this module

        return EdgeClient(path, layout)
    if path == ":memory:":
        return ConfiguredClient(layout, location=":memory:")
    Path(path).mkdir(parents=True, exist_ok=True)
    try:
        return ConfiguredClient(layout, path=path)
    except RuntimeError as exc:
        if "already accessed" not in str(exc):
            raise
        raise StoreUnavailableError(
            f"the embedded Qdrant store at {path} is in use by another process (the app or another "
            "ingest). Embedded mode allows one process per folder: stop the other process, or run a "
            "Qdrant server and set HEISE_RAG_QDRANT_URL for concurrent access."
        ) from exc


def point_id(source: str, article_id: str, chunk_index: int) -> str:
    """Deterministic point id, so re-ingesting an article overwrites instead of duplicating."""
    return str(uuid.uuid5(POINT_NAMESPACE, f"{source}\x1f{article_id}\x1f{chunk_index}"))


def article_key(source: str, article_id: str) -> str:
    return f"{source}:{article_id}"


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
                        "HEISE_RAG_QDRANT_URL prüfen oder leeren (eingebetteter Speicher). / "
                        f"Qdrant at {url} is unreachable."
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
        fields = ["source", "article_id", "content_hash", "chunk_index", "n_chunks"]
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
