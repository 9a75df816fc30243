"""The `edge` embedded engine: qdrant-edge-py (Qdrant's Rust engine in-process) behind qdrant-client's API.

Why: qdrant-client's local mode searches by brute force in Python and evaluates filters point by
point, so a hybrid query with a date filter takes seconds at 50k chunks; Qdrant's own engine answers
the same query in milliseconds with HNSW, a sparse inverted index and payload indexes
(bench/scale.py). Why a facade: the project talks to Qdrant through qdrant-client's API (the store,
the retriever, index status, collection copies), and a server keeps doing so; this class maps
exactly the part of that API the project uses onto edge shards, so nothing above the store branches
on the engine. A call outside that part raises ``TypeError`` naming it.

On disk: ``<path>/collection/<name>/shard`` (the edge shard) and ``<path>/collection/<name>/
collection.json`` (vector parameters and collection metadata, which shards do not keep). One process
per folder, as with local mode. Edge has no background optimizer: the HNSW and payload indexes are
built when a client that wrote closes (an ingest ends by closing its client); until then new points
are searched by a full scan of their segment, which is exact and, in Rust, fast enough for the
batches an app ingests while it runs.

Dense searches run with `EdgeSearch`: an exact scan in collections below a size threshold, HNSW
with a search-time ``hnsw_ef`` above it. Why: HNSW is approximate, and much more so under a date
filter that keeps a tenth of the points. On bench/scale.py's synthetic vectors the hybrid top 10
with Qdrant's default ef agreed with a scan on 3 % (100k chunks) and 1 % (200k) of the filtered
queries, with ef 512 on 63 % and 54 %, while the scan took 6 and 14 ms, no longer than ef 512
(about 36 and 52 ms without a filter on a loaded machine): in Rust a scan of this size is
cheaper than an index that is right.
"""

from __future__ import annotations

import fcntl
import json
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import qdrant_edge as qe
from qdrant_client import models
from qdrant_client.http import models as rest  # `models.QueryResponse` is fastembed's namesake

from rag.core.settings import Settings
from rag.store.layout import EDGE_META_FILE, CollectionLayout, store_in_use

_DISTANCE = {
    models.Distance.COSINE: qe.Distance.Cosine,
    models.Distance.DOT: qe.Distance.Dot,
    models.Distance.EUCLID: qe.Distance.Euclid,
    models.Distance.MANHATTAN: qe.Distance.Manhattan,
}
_SCHEMA = {
    models.PayloadSchemaType.KEYWORD: qe.PayloadSchemaType.Keyword,
    models.PayloadSchemaType.INTEGER: qe.PayloadSchemaType.Integer,
    models.PayloadSchemaType.FLOAT: qe.PayloadSchemaType.Float,
    models.PayloadSchemaType.BOOL: qe.PayloadSchemaType.Bool,
    models.PayloadSchemaType.DATETIME: qe.PayloadSchemaType.Datetime,
    models.PayloadSchemaType.TEXT: qe.PayloadSchemaType.Text,
    models.PayloadSchemaType.UUID: qe.PayloadSchemaType.Uuid,
}


@dataclass(frozen=True)
class EdgeSearch:
    """How dense queries search: exactly below ``exact_below`` points, else HNSW with ``hnsw_ef``
    candidates (at least the query's limit, as in Qdrant). Sparse queries use the inverted index,
    which is exact anyway. A query's own ``search_params`` (or a prefetch's ``params``) win."""

    hnsw_ef: int = Settings.model_fields["qdrant_hnsw_ef"].default
    exact_below: int = Settings.model_fields["qdrant_exact_below"].default

    @classmethod
    def from_settings(cls, settings: Settings) -> EdgeSearch:
        return cls(settings.qdrant_hnsw_ef, settings.qdrant_exact_below)


@dataclass
class EdgeCollectionConfig:
    params: models.CollectionParams
    metadata: dict[str, Any]


@dataclass
class EdgeCollectionInfo:
    """What `get_collection` gives callers: the config (vector params, metadata) and the count."""

    config: EdgeCollectionConfig
    points_count: int


@dataclass
class _Collection:
    shard: qe.EdgeShard
    written: bool = False
    points: int | None = None
    """Cached point count (for the exact-search threshold); None after a write."""

    def count(self) -> int:
        if self.points is None:
            self.points = self.shard.count(qe.CountRequest(exact=True))
        return self.points


def _point_id(value: object) -> int | str:
    """qdrant-client's id types: ints stay ints, UUIDs become their string form."""
    return value if isinstance(value, int) else str(value)


def _edge_vector(vector: object) -> object:
    if isinstance(vector, models.SparseVector):
        return qe.SparseVector(list(vector.indices), list(vector.values))
    if isinstance(vector, list):
        return [float(x) for x in vector]
    raise TypeError(f"edge engine: unsupported vector {type(vector).__name__}")


def _client_vector(vector: object) -> object:
    if isinstance(vector, qe.SparseVector):
        return models.SparseVector(indices=list(vector.indices), values=list(vector.values))
    return vector


def _vectors_back(vector: object) -> object:
    if isinstance(vector, dict):
        return {name: _client_vector(v) for name, v in vector.items()}
    return vector


def _when(value: object) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _condition(condition: object) -> object:
    if isinstance(condition, models.Filter):
        return _filter(condition)
    if not isinstance(condition, models.FieldCondition):
        raise TypeError(f"edge engine: unsupported filter condition {type(condition).__name__}")
    if isinstance(condition.range, models.DatetimeRange):
        r = condition.range
        rng = qe.RangeDateTime(gte=_when(r.gte), gt=_when(r.gt), lte=_when(r.lte), lt=_when(r.lt))
        return qe.FieldCondition(condition.key, range=rng)
    if isinstance(condition.range, models.Range):
        r = condition.range
        return qe.FieldCondition(condition.key, range=qe.RangeFloat(gte=r.gte, gt=r.gt, lte=r.lte, lt=r.lt))
    if isinstance(condition.match, models.MatchAny):
        return qe.FieldCondition(condition.key, match=qe.MatchAny(list(condition.match.any)))
    if isinstance(condition.match, models.MatchValue):
        return qe.FieldCondition(condition.key, match=qe.MatchValue(condition.match.value))
    raise TypeError(f"edge engine: unsupported condition on {condition.key!r}")


def _conditions(items: object) -> list[object] | None:
    if items is None:
        return None
    return [_condition(c) for c in (items if isinstance(items, list) else [items])]


def _filter(qfilter: models.Filter | None) -> qe.Filter | None:
    if qfilter is None:
        return None
    if qfilter.min_should is not None:
        raise TypeError("edge engine: min_should filters are not supported")
    return qe.Filter(
        must=_conditions(qfilter.must),
        should=_conditions(qfilter.should),
        must_not=_conditions(qfilter.must_not),
    )


def _query(query: object, using: str | None) -> object:
    if isinstance(query, models.RrfQuery):
        return qe.Fusion.Rrf(k=query.rrf.k or 60, weights=query.rrf.weights)
    if isinstance(query, models.FusionQuery) and query.fusion == models.Fusion.RRF:
        return qe.Fusion.Rrf(k=60)
    if isinstance(query, models.FusionQuery) and query.fusion == models.Fusion.DBSF:
        return qe.Fusion.Dbsf()
    return qe.Query.Nearest(_edge_vector(query), using=using)


def _search_params(params: models.SearchParams) -> qe.SearchParams:
    return qe.SearchParams(hnsw_ef=params.hnsw_ef, exact=bool(params.exact))


def _params_for(query: object, given: models.SearchParams | None, dense: qe.SearchParams) -> object:
    """A query's own params, else the configured dense params for a dense vector; none otherwise
    (fusion has nothing to search, and ``exact`` would turn the sparse index into a scan)."""
    if given is not None:
        return _search_params(given)
    return dense if isinstance(query, list) else None


def _prefetch(prefetch: models.Prefetch, dense: qe.SearchParams) -> qe.Prefetch:
    nested = prefetch.prefetch
    return qe.Prefetch(
        prefetch.limit or 10,
        query=_query(prefetch.query, prefetch.using) if prefetch.query is not None else None,
        prefetches=[_prefetch(p, dense) for p in (nested if isinstance(nested, list) else [nested])]
        if nested
        else None,
        params=_params_for(prefetch.query, prefetch.params, dense),
        filter=_filter(prefetch.filter),
        score_threshold=prefetch.score_threshold,
    )


def _edge_config(
    vectors_config: dict[str, models.VectorParams],
    sparse_vectors_config: dict[str, models.SparseVectorParams] | None,
) -> qe.EdgeConfig:
    dense = {}
    for name, params in vectors_config.items():
        hnsw = params.hnsw_config
        scalar = params.quantization_config
        dense[name] = qe.EdgeVectorParams(
            size=params.size,
            distance=_DISTANCE[params.distance],
            on_disk=params.on_disk,
            hnsw_config=qe.HnswIndexConfig(
                m=(hnsw.m if hnsw and hnsw.m else 16),
                ef_construct=(hnsw.ef_construct if hnsw and hnsw.ef_construct else 100),
                full_scan_threshold=10_000,
            ),
            quantization_config=qe.ScalarQuantizationConfig(
                qe.ScalarType.Int8, quantile=scalar.scalar.quantile, always_ram=scalar.scalar.always_ram
            )
            if isinstance(scalar, models.ScalarQuantization)
            else None,
        )
    sparse = {
        name: qe.EdgeSparseVectorParams(
            modifier=qe.Modifier.Idf if p.modifier == models.Modifier.IDF else None
        )
        for name, p in (sparse_vectors_config or {}).items()
    }
    return qe.EdgeConfig(vectors=dense, sparse_vectors=sparse)


class EdgeClient:
    """The subset of `QdrantClient` this project calls, over one edge shard per collection."""

    def __init__(
        self, path: str, layout: CollectionLayout | None = None, search: EdgeSearch | None = None
    ) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="heise-rag-edge-") if path == ":memory:" else None
        self.root = Path(self._tmp.name if self._tmp else path) / "collection"
        self.root.mkdir(parents=True, exist_ok=True)
        self.layout = layout or CollectionLayout()
        self.search = search or EdgeSearch()
        self.init_options: dict[str, Any] = {"path": path}
        self._open: dict[str, _Collection] = {}
        self._lock = self._lock_folder()

    def _lock_folder(self) -> TextIO:
        """Hold the whole folder, as local mode does: shards lock only once a collection is
        loaded, so a second process would otherwise see an empty store instead of a busy one."""
        lock = (self.root.parent / ".lock").open("w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            lock.close()
            raise store_in_use(self.root.parent) from exc
        return lock

    # -- collections ----------------------------------------------------------------------------

    def _meta_path(self, name: str) -> Path:
        return self.root / name / EDGE_META_FILE

    def _read_meta(self, name: str) -> dict[str, Any]:
        return json.loads(self._meta_path(name).read_text(encoding="utf-8"))

    def _write_meta(self, name: str, meta: dict[str, Any]) -> None:
        tmp = self._meta_path(name).with_suffix(".tmp")
        tmp.write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        tmp.replace(self._meta_path(name))

    def _collection(self, name: str) -> _Collection:
        if name not in self._open:
            if not self.collection_exists(name):
                raise ValueError(f"Collection {name} not found")
            try:
                shard = qe.EdgeShard.load(str(self.root / name / "shard"))
            except Exception as exc:  # the bindings raise plain Exception
                if "WouldBlock" not in str(exc):
                    raise
                raise store_in_use(self.root.parent) from exc
            self._open[name] = _Collection(shard)
        return self._open[name]

    def collection_exists(self, collection_name: str) -> bool:
        return self._meta_path(collection_name).exists()

    def get_collections(self) -> models.CollectionsResponse:
        names = sorted(p.parent.name for p in self.root.glob(f"*/{EDGE_META_FILE}"))
        return models.CollectionsResponse(collections=[models.CollectionDescription(name=n) for n in names])

    def create_collection(
        self,
        collection_name: str,
        vectors_config: dict[str, models.VectorParams],
        sparse_vectors_config: dict[str, models.SparseVectorParams] | None = None,
        metadata: dict[str, Any] | None = None,
        **server_only: object,
    ) -> bool:
        """Sharding, replication and write consistency (``server_only``) mean nothing in one process."""
        if self.collection_exists(collection_name):
            raise ValueError(f"Collection {collection_name} already exists")
        if not isinstance(vectors_config, dict):
            raise TypeError("edge engine: collections need named vectors (a dict of VectorParams)")
        shard = qe.EdgeShard.create(
            str(self.root / collection_name / "shard"), _edge_config(vectors_config, sparse_vectors_config)
        )
        params = models.CollectionParams(vectors=vectors_config, sparse_vectors=sparse_vectors_config)
        self._write_meta(
            collection_name, {"params": params.model_dump(mode="json"), "metadata": metadata or {}}
        )
        self._open[collection_name] = _Collection(shard)
        return True

    def get_collection(self, collection_name: str) -> EdgeCollectionInfo:
        meta = self._read_meta(collection_name)
        params = models.CollectionParams.model_validate(meta["params"])
        count = self._collection(collection_name).count()
        return EdgeCollectionInfo(EdgeCollectionConfig(params, dict(meta["metadata"])), count)

    def update_collection(self, collection_name: str, metadata: dict[str, Any]) -> bool:
        """Merge keys into the metadata, as Qdrant does."""
        meta = self._read_meta(collection_name)
        meta["metadata"] = meta["metadata"] | metadata
        self._write_meta(collection_name, meta)
        return True

    def create_payload_index(
        self, collection_name: str, field_name: str, field_schema: models.PayloadSchemaType
    ) -> None:
        operation = qe.UpdateOperation.create_field_index(field_name, _SCHEMA[field_schema])
        self._collection(collection_name).shard.update(operation)

    # -- points ---------------------------------------------------------------------------------

    def upsert(self, collection_name: str, points: Sequence[models.PointStruct], wait: bool = True) -> None:
        collection = self._collection(collection_name)
        edge_points = []
        for p in points:
            vectors = p.vector if isinstance(p.vector, dict) else {"": p.vector}
            edge_points.append(
                qe.Point(
                    p.id if isinstance(p.id, int) else uuid.UUID(str(p.id)),
                    {name: _edge_vector(v) for name, v in vectors.items()},
                    p.payload,
                )
            )
        collection.shard.update(qe.UpdateOperation.upsert_points(edge_points))
        collection.written = True
        collection.points = None

    def delete(self, collection_name: str, points_selector: models.PointIdsList, wait: bool = True) -> None:
        ids = [p if isinstance(p, int) else uuid.UUID(str(p)) for p in points_selector.points]
        collection = self._collection(collection_name)
        collection.shard.update(qe.UpdateOperation.delete_points(ids))
        collection.points = None

    def scroll(
        self,
        collection_name: str,
        limit: int = 10,
        offset: int | str | None = None,
        with_payload: bool | list[str] = True,
        with_vectors: bool | list[str] = False,
    ) -> tuple[list[models.Record], int | str | None]:
        start = offset if offset is None or isinstance(offset, int) else uuid.UUID(str(offset))
        records, next_offset = self._collection(collection_name).shard.scroll(
            qe.ScrollRequest(offset=start, limit=limit, with_payload=with_payload, with_vector=with_vectors)
        )
        points = [
            models.Record(id=_point_id(r.id), payload=r.payload, vector=_vectors_back(r.vector))
            for r in records
        ]
        return points, None if next_offset is None else _point_id(next_offset)

    def count(self, collection_name: str, exact: bool = True) -> models.CountResult:
        return models.CountResult(count=self._collection(collection_name).count())

    def query_points(
        self,
        collection_name: str,
        query: object = None,
        using: str | None = None,
        prefetch: models.Prefetch | list[models.Prefetch] | None = None,
        query_filter: models.Filter | None = None,
        limit: int = 10,
        with_payload: bool | list[str] = True,
        with_vectors: bool | list[str] = False,
        search_params: models.SearchParams | None = None,
    ) -> rest.QueryResponse:
        collection = self._collection(collection_name)
        dense = qe.SearchParams(
            hnsw_ef=self.search.hnsw_ef, exact=collection.count() < self.search.exact_below
        )
        prefetches = prefetch if isinstance(prefetch, list) else [prefetch] if prefetch else []
        request = qe.QueryRequest(
            limit=limit,
            query=_query(query, using) if query is not None else None,
            prefetches=[_prefetch(p, dense) for p in prefetches] or None,
            filter=_filter(query_filter),
            with_payload=with_payload,
            with_vector=with_vectors,
            params=_params_for(query, search_params, dense),
        )
        hits = collection.shard.query(request)
        return rest.QueryResponse(
            points=[
                models.ScoredPoint(
                    id=_point_id(h.id),
                    version=h.version,
                    score=h.score,
                    payload=h.payload,
                    vector=_vectors_back(h.vector),
                )
                for h in hits
            ]
        )

    # -- lifecycle ------------------------------------------------------------------------------

    def close(self) -> None:
        """Build the indexes over what was written (a server does this in the background; edge
        does it when asked), then flush and release the folder."""
        for collection in self._open.values():
            if collection.written:
                collection.shard.optimize()
            collection.shard.flush()
            collection.shard.close()
        self._open.clear()
        self._lock.close()  # releases the lock
        if self._tmp:
            self._tmp.cleanup()
