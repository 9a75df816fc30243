"""What a collection looks like: its named vectors and how a new one is laid out.

Why a module of its own: both engines (qdrant-client in rag/store/vector_store.py, Qdrant's Rust
engine in rag/store/edge.py) create collections from the same layout and raise the same error, so
both depend on this module and not on each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from qdrant_client import models

from rag.core.settings import Settings

DENSE = "dense"
SPARSE = "bm25"
EDGE_META_FILE = "collection.json"
"""Beside each edge shard: vector parameters and metadata (rag/store/edge.py); marks an edge store."""


class StoreUnavailableError(RuntimeError):
    """The configured Qdrant store cannot be opened; the message (German: users see it) names it and
    the remedy."""


def store_in_use(path: object) -> StoreUnavailableError:
    """The error for an embedded store that another process holds, for either embedded engine."""
    return StoreUnavailableError(
        f"Der eingebettete Qdrant-Speicher in {path} wird von einem anderen Prozess benutzt (der App "
        "oder einer anderen Aufnahme). Eingebettet darf nur ein Prozess je Ordner zugreifen: den anderen "
        "Prozess beenden, oder für gleichzeitigen Zugriff einen Qdrant-Server starten und "
        "HEISE_RAG_QDRANT_URL setzen."
    )


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
