"""The edge engine's search-time settings: ``qdrant_hnsw_ef`` and ``qdrant_exact_below`` reach the
engine's requests (dense searches only; a query's own params win), answers agree with exact
search, and bad values are refused by the settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import qdrant_edge as qe
from pydantic import ValidationError
from qdrant_client import models

from rag.core.settings import Settings
from rag.store.edge import EdgeClient, EdgeSearch
from rag.store.layout import DENSE, SPARSE
from rag.store.vector_store import VectorStore, open_client

DIM = 16
POINTS = 400


class SpyShard:
    """The real shard, recording the query requests it is sent."""

    def __init__(self, shard: qe.EdgeShard) -> None:
        self.shard = shard
        self.requests: list[qe.QueryRequest] = []

    def query(self, request: qe.QueryRequest) -> Any:
        self.requests.append(request)
        return self.shard.query(request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.shard, name)


def filled(settings: Settings) -> tuple[EdgeClient, SpyShard]:
    rng = np.random.default_rng(5)
    client = open_client(settings)
    assert isinstance(client, EdgeClient)
    store = VectorStore(client, "c")
    store.create(DIM, {})
    store.upsert(
        [
            models.PointStruct(
                id=i,
                vector={
                    DENSE: rng.standard_normal(DIM).tolist(),
                    SPARSE: models.SparseVector(indices=[i % 13], values=[1.0 + i / 1000]),  # no ties
                },
                payload={"source": "heise"},
            )
            for i in range(POINTS)
        ]
    )
    spy = SpyShard(client._open["c"].shard)  # the test watches the engine's requests
    client._open["c"].shard = spy  # type: ignore[assignment]
    return client, spy


def hybrid(client: EdgeClient, vector: list[float], params: models.SearchParams | None = None) -> list[int]:
    response = client.query_points(
        "c",
        prefetch=[
            models.Prefetch(query=vector, using=DENSE, limit=50, params=params),
            models.Prefetch(query=models.SparseVector(indices=[3], values=[1.0]), using=SPARSE, limit=50),
        ],
        query=models.FusionQuery(fusion=models.Fusion.DBSF),
        limit=10,
    )
    return [int(p.id) for p in response.points]


def test_settings_reach_the_engine(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None, qdrant_path=str(tmp_path), qdrant_embedded_engine="edge", qdrant_hnsw_ef=77
    )
    for exact_below, exact in ((POINTS + 1, True), (POINTS, False)):
        client, spy = filled(settings.model_copy(update={"qdrant_exact_below": exact_below}))
        assert client.search == EdgeSearch(hnsw_ef=77, exact_below=exact_below)
        hybrid(client, [1.0] * DIM)
        dense, sparse = spy.requests[-1].prefetches
        assert (dense.params.hnsw_ef, dense.params.exact) == (77, exact)
        assert sparse.params is None  # `exact` would turn the inverted index into a scan
        assert spy.requests[-1].params is None  # the fusion searches nothing
        client.query_points("c", query=[1.0] * DIM, using=DENSE, limit=5)
        assert (spy.requests[-1].params.hnsw_ef, spy.requests[-1].params.exact) == (77, exact)
        hybrid(client, [1.0] * DIM, models.SearchParams(hnsw_ef=300))
        assert (
            spy.requests[-1].prefetches[0].params.hnsw_ef,
            spy.requests[-1].prefetches[0].params.exact,
        ) == (
            300,
            False,
        )
        client.close()
        client.root.parent.joinpath("collection", "c").rename(tmp_path / f"old-{exact_below}")


def test_hnsw_answers_agree_with_exact_search(tmp_path: Path) -> None:
    """After the index is built (closing a client that wrote), HNSW with the configured ef finds
    what a scan finds, for dense queries and the fusion."""
    settings = Settings(_env_file=None, qdrant_path=str(tmp_path), qdrant_embedded_engine="edge")
    client, _ = filled(settings.model_copy(update={"qdrant_exact_below": 0}))
    client.close()
    client = open_client(settings.model_copy(update={"qdrant_exact_below": 0}))
    assert isinstance(client, EdgeClient)
    exact = models.SearchParams(exact=True)
    for vector in np.random.default_rng(9).standard_normal((20, DIM)).tolist():
        assert hybrid(client, vector) == hybrid(client, vector, exact)
        approximate = client.query_points("c", query=vector, using=DENSE, limit=10).points
        scanned = client.query_points("c", query=vector, using=DENSE, limit=10, search_params=exact).points
        assert [p.id for p in approximate] == [p.id for p in scanned]
    client.close()


@pytest.mark.parametrize(("field", "value"), [("qdrant_hnsw_ef", 0), ("qdrant_exact_below", -1)])
def test_bad_search_settings_are_refused(field: str, value: int) -> None:
    with pytest.raises(ValidationError, match=field):
        Settings(_env_file=None, **{field: value})
