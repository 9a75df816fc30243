"""Taking over a store of the other embedded engine: both directions, beside and in place, on real
stores of both engines (small synthetic vectors; the encoder does not matter here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from qdrant_client import models

from rag.core.settings import Settings
from rag.store.layout import DENSE, SPARSE, StoreUnavailableError
from rag.store.migrate import migrate_store, pending_migration, store_engine
from rag.store.vector_store import VectorStore, open_client

DIM = 8
POINTS = 300  # more than one scroll page
METADATA = {"complete_sources": ["headlines"], "bm25_avgdl": 12.5, "dim": DIM}


def build_store(settings: Settings) -> None:
    """Unit vectors: Qdrant's engine stores cosine vectors normalised, local mode as given."""
    rng = np.random.default_rng(3)
    dense = rng.standard_normal((POINTS, DIM))
    dense /= np.linalg.norm(dense, axis=1, keepdims=True)
    client = open_client(settings)
    store = VectorStore(client, "heise")
    store.create(DIM, METADATA)
    store.upsert(
        [
            models.PointStruct(
                id=i,
                vector={
                    DENSE: dense[i].tolist(),
                    SPARSE: models.SparseVector(indices=[i % 17, 40 + i % 5], values=[1.0, 0.5]),
                },
                payload={
                    "source": "heise",
                    "article_id": str(i),
                    "published_at": "2023-01-02T10:00:00+00:00",
                },
            )
            for i in range(POINTS)
        ]
    )
    client.close()


def snapshot(settings: Settings) -> tuple[dict, dict[str, object], np.ndarray, list[str]]:
    """Metadata, every point's payload and sparse vector, the dense vectors (float32 in both
    engines, compared with a tolerance) and the nearest ids of one query."""
    client = open_client(settings)
    store = VectorStore(client, "heise")
    records = sorted((p for page in store.scroll_pages() for p in page), key=lambda p: int(p.id))
    points = {str(p.id): (p.payload, p.vector[SPARSE]) for p in records}  # type: ignore[index]
    dense = np.array([p.vector[DENSE] for p in records])  # type: ignore[index]
    hits = client.query_points("heise", query=[1.0] * DIM, using=DENSE, limit=5).points
    meta = store.metadata()
    client.close()
    return meta, points, dense, [str(h.id) for h in hits]


def assert_same(got: tuple, expected: tuple) -> None:
    assert (got[0], got[1], got[3]) == (expected[0], expected[1], expected[3])
    np.testing.assert_allclose(got[2], expected[2], atol=1e-6)


@pytest.mark.parametrize(("old", "new"), [("local", "edge"), ("edge", "local")])
def test_default_folder_of_the_other_engine_is_copied_and_kept(tmp_path: Path, old: str, new: str) -> None:
    before = Settings(_env_file=None, var_dir=tmp_path, qdrant_embedded_engine=old)
    after = Settings(_env_file=None, var_dir=tmp_path, qdrant_embedded_engine=new)
    build_store(before)
    expected = snapshot(before)

    migration = pending_migration(after)
    assert migration is not None and not migration.in_place
    assert (migration.engine, migration.source, migration.target) == (
        old,
        Path(before.resolved_qdrant_path),
        Path(after.resolved_qdrant_path),
    )
    assert "nichts wird neu eingebettet" in migration.announcement()
    open_client(after).close()  # an empty store of the new engine (as the app leaves it) is replaced
    assert migrate_store(after, migration) == {"heise": POINTS}

    assert store_engine(Path(after.resolved_qdrant_path)) == new
    assert_same(snapshot(after), expected)
    assert_same(snapshot(before), expected)  # the old store is untouched
    assert pending_migration(after) is None


def test_configured_folder_of_the_other_engine_is_refused_then_migrated_in_place(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    before = Settings(_env_file=None, qdrant_path=str(folder), qdrant_embedded_engine="edge")
    after = Settings(_env_file=None, qdrant_path=str(folder), qdrant_embedded_engine="local")
    build_store(before)
    expected = snapshot(before)

    with pytest.raises(StoreUnavailableError, match=r"mit der Engine 'edge' angelegt.*index build-default"):
        open_client(after)
    migration = pending_migration(after)
    assert migration is not None and migration.in_place
    migrate_store(after, migration)

    assert store_engine(folder) == "local"
    assert store_engine(migration.backup) == "edge"
    assert migration.old_store == migration.backup == tmp_path / "store.edge-backup"
    assert_same(snapshot(after), expected)
    assert pending_migration(after) is None


def test_in_place_migration_refuses_to_overwrite_an_old_backup(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    build_store(Settings(_env_file=None, qdrant_path=str(folder), qdrant_embedded_engine="local"))
    (tmp_path / "store.local-backup").mkdir()
    after = Settings(_env_file=None, qdrant_path=str(folder), qdrant_embedded_engine="edge")
    migration = pending_migration(after)
    assert migration is not None
    with pytest.raises(StoreUnavailableError, match="gibt es schon"):
        migrate_store(after, migration)
    assert store_engine(folder) == "local"


def test_nothing_to_migrate_for_servers_memory_or_the_same_engine(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, var_dir=tmp_path, qdrant_embedded_engine="edge")
    build_store(settings)
    assert pending_migration(settings) is None
    assert pending_migration(settings.model_copy(update={"qdrant_path": ":memory:"})) is None
    assert pending_migration(settings.model_copy(update={"qdrant_url": "http://qdrant:6333"})) is None
    # An explicitly configured empty folder does not take over the other engine's default folder.
    local = Settings(
        _env_file=None, var_dir=tmp_path, qdrant_path=str(tmp_path / "x"), qdrant_embedded_engine="local"
    )
    assert pending_migration(local) is None
