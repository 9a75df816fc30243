"""Taking over an embedded store that the other engine wrote, by copying its stored vectors.

Why: the default embedded engine moved from qdrant-client's local mode to Qdrant's edge engine, and
neither reads the other's files (local mode: ``collection/<name>/storage.sqlite``; edge:
``collection/<name>/collection.json`` and ``shard/``). Re-embedding the default index costs most of
an hour on a small CPU; copying its points with their vectors takes a minute or two. The old store
is never deleted: a store found in the other engine's default folder stays where it is, and one in
the configured folder itself is moved aside (``<folder>.<engine>-backup``) once the copy is whole.
The copy is written to ``<target>.migrating`` first and renamed at the end, so an interrupted
migration leaves no half store that would look complete (the metadata records finished sources).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from qdrant_client import models

from rag.core.settings import Settings
from rag.store.layout import DENSE, EDGE_META_FILE, StoreUnavailableError
from rag.store.vector_store import VectorStore, open_client

Engine = Literal["local", "edge"]
_MARKERS: dict[Engine, str] = {"edge": EDGE_META_FILE, "local": "storage.sqlite"}


def store_engine(folder: Path) -> Engine | None:
    """The engine whose collections ``folder`` holds; None when it holds no collection."""
    for engine, marker in _MARKERS.items():
        if any((folder / "collection").glob(f"*/{marker}")):
            return engine
    return None


def _other(engine: Engine) -> Engine:
    return "local" if engine == "edge" else "edge"


@dataclass(frozen=True)
class Migration:
    """A store of ``engine`` in ``source`` that the configured store in ``target`` takes over."""

    engine: Engine
    source: Path
    target: Path

    @property
    def in_place(self) -> bool:
        return self.source == self.target

    @property
    def backup(self) -> Path:
        """Where an in-place migration moves the old store."""
        return self.target.with_name(f"{self.target.name}.{self.engine}-backup")

    @property
    def old_store(self) -> Path:
        """Where the old store is once the migration is done."""
        return self.backup if self.in_place else self.source

    def announcement(self) -> str:
        """What is about to happen, for users (German)."""
        kept = (
            f"der alte Speicher wird danach nach {self.backup} verschoben"
            if self.in_place
            else "der alte Speicher bleibt unverändert liegen"
        )
        return (
            f"Der eingebettete Qdrant-Speicher in {self.source} stammt von der Engine {self.engine!r}, "
            f"eingestellt ist {_other(self.engine)!r}. Seine Punkte werden samt Vektoren nach "
            f"{self.target} übernommen (nichts wird neu eingebettet); {kept}."
        )


def pending_migration(settings: Settings) -> Migration | None:
    """The other engine's store that the configured embedded store should take over, if any: the
    configured folder itself, or (with the default folders) the other engine's default folder while
    the configured one holds no collection yet."""
    if settings.qdrant_url or settings.resolved_qdrant_path == ":memory:":
        return None
    engine = settings.qdrant_embedded_engine
    target = Path(settings.resolved_qdrant_path)
    found = store_engine(target)
    if found is not None:
        return Migration(found, target, target) if found != engine else None
    if settings.qdrant_path is not None:
        return None
    other = _other(engine)
    source = Path(settings.model_copy(update={"qdrant_embedded_engine": other}).resolved_qdrant_path)
    return Migration(other, source, target) if store_engine(source) == other else None


def foreign_store_error(settings: Settings) -> str | None:
    """Why the configured folder cannot be opened: the other engine wrote it (German), else None.

    Opening it anyway would put the configured engine's files beside the other's."""
    migration = pending_migration(settings)
    if migration is None or not migration.in_place:
        return None
    return (
        f"Der eingebettete Qdrant-Speicher in {migration.target} wurde mit der Engine "
        f"{migration.engine!r} angelegt, eingestellt ist {settings.qdrant_embedded_engine!r}. "
        "`heise-rag index build-default` übernimmt ihn (die Vektoren werden kopiert, nichts wird neu "
        f"eingebettet; der alte Speicher bleibt als {migration.backup}); oder "
        f"HEISE_RAG_QDRANT_EMBEDDED_ENGINE={migration.engine} setzen."
    )


def migrate_store(
    settings: Settings, migration: Migration, on_progress: Callable[[int], None] | None = None
) -> dict[str, int]:
    """Copy every collection of ``migration.source`` into the configured engine's store at
    ``migration.target``; returns the points copied per collection. New collections get the
    configured layout (quantization, on-disk vectors, HNSW) and the old ones' metadata."""
    if migration.in_place and migration.backup.exists():
        raise StoreUnavailableError(
            f"{migration.backup} gibt es schon (eine frühere Übernahme?); den Ordner verschieben oder "
            f"löschen, dann `heise-rag index build-default` wiederholen."
        )
    building = migration.target.with_name(f"{migration.target.name}.migrating")
    shutil.rmtree(building, ignore_errors=True)  # a migration that was interrupted before
    source_settings = settings.model_copy(
        update={"qdrant_embedded_engine": migration.engine, "qdrant_path": str(migration.source)}
    )
    target_settings = settings.model_copy(update={"qdrant_path": str(building)})
    source, target = open_client(source_settings), open_client(target_settings)
    copied: dict[str, int] = {}
    try:
        for name in sorted(c.name for c in source.get_collections().collections):
            copied[name] = _copy_collection(VectorStore(source, name), VectorStore(target, name), on_progress)
    finally:
        source.close()
        target.close()
    if migration.in_place:
        migration.target.rename(migration.backup)
    elif migration.target.exists():
        shutil.rmtree(migration.target)  # holds no collection (store_engine found none)
    building.rename(migration.target)
    return copied


def _copy_collection(
    source: VectorStore, target: VectorStore, on_progress: Callable[[int], None] | None
) -> int:
    vectors = source.client.get_collection(source.collection).config.params.vectors
    assert isinstance(vectors, dict), "collections of this project have named vectors"
    target.create(vectors[DENSE].size, source.metadata())
    copied = 0
    for page in source.scroll_pages():
        target.upsert([models.PointStruct(id=p.id, vector=p.vector or {}, payload=p.payload) for p in page])
        copied += len(page)
        if on_progress:
            on_progress(len(page))
    return copied
