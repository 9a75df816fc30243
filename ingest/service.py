"""Ingest entry points shared by the CLI, `make run` and the app.

Why here and not in the CLI: the app ingests uploads and feeds with the same code, and the first
run builds the default index; all of them need the same wiring of settings to store, embedder and
chunker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from ingest.chunking import Chunker
from ingest.pipeline import Indexer, IngestReport
from ingest.reembed import needs_reembedding, reembed_dense
from ingest.sources import SOURCES, default_locations
from ingest.sparse_stats import Refresh, needs_stats, refresh_sparse
from rag.core.domain import Article, Skipped
from rag.core.settings import Settings
from rag.models.embeddings import Embedder
from rag.store.vector_store import VectorStore, open_client

DEFAULT_SOURCES = ("headlines", "10kgnad")

Progress = Callable[[int, int], None]
# (source name, articles read, chunks written) while the default index builds
SourceProgress = Callable[[str, int, int], None]


def make_indexer(settings: Settings, store: VectorStore, embedder: Embedder | None = None) -> Indexer:
    embedder = embedder or Embedder.from_settings(settings)
    budget = min(settings.chunk_tokens, embedder.max_tokens)
    chunker = Chunker(embedder.count_tokens, budget, min(settings.chunk_overlap_tokens, budget // 2))
    return Indexer(store, embedder, chunker, implausible_dates=settings.implausible_dates)


def read_source(name: str, location: str | None, settings: Settings) -> Iterable[Article | Skipped]:
    """Items of a named source at ``location`` (or its default), with a clear error for bad names."""
    if name not in SOURCES:
        raise ValueError(f"unbekannte Quelle {name!r}; bekannt: {', '.join(SOURCES)}")
    location = location or default_locations(settings).get(name)
    if location is None:
        raise ValueError(f"die Quelle {name!r} braucht einen Pfad oder eine URL")
    return SOURCES[name](location)


def count_articles(name: str, settings: Settings) -> int:
    """Readable articles of a named source at its default location (for a progress bar's total)."""
    return sum(isinstance(item, Article) for item in read_source(name, None, settings))


def ingest_source(
    name: str,
    location: str | None,
    settings: Settings,
    collection: str | None = None,
    on_progress: Progress | None = None,
) -> IngestReport:
    """Ingest one source into a collection (the configured one by default)."""
    client = open_client(settings)
    try:
        store = VectorStore(client, collection or settings.collection)
        return make_indexer(settings, store).ingest(read_source(name, location, settings), on_progress)
    finally:
        client.close()


def ensure_default_index(settings: Settings, on_progress: SourceProgress | None = None) -> list[IngestReport]:
    """Build the default index (heise headlines + 10kGNAD) unless the collection records it as done."""
    client = open_client(settings)
    try:
        store = VectorStore(client, settings.collection)
        return build_default_index(store, settings, on_progress=on_progress)
    finally:
        client.close()


def default_sources_todo(store: VectorStore) -> list[str]:
    """The default sources the collection does not record as completely ingested, in build order."""
    done = set(store.metadata().get("complete_sources", [])) if store.exists() else set()  # type: ignore[call-overload]
    return [name for name in DEFAULT_SOURCES if name not in done]


def build_default_index(
    store: VectorStore,
    settings: Settings,
    embedder: Embedder | None = None,
    on_progress: SourceProgress | None = None,
) -> list[IngestReport]:
    """Build the default index into ``store`` (an open client's collection: the CLI's own, or the
    app's, which keeps answering from it while this runs in a background thread).

    Each finished source is recorded in the collection's metadata, so a second `make run` only reads
    that record, and a first run that was interrupted resumes with the incremental ingest. A complete
    collection built before BM25's corpus statistics existed gets them, and its sparse vectors are
    re-encoded (its ``avgdl`` was the headlines' alone).
    """
    todo = default_sources_todo(store)
    if not todo:
        if needs_stats(store):
            refresh_sparse(store)
        return []
    done = set(DEFAULT_SOURCES) - set(todo)
    indexer = make_indexer(settings, store, embedder)
    reports = []
    for name in todo:
        progress = (lambda a, c, n=name: on_progress(n, a, c)) if on_progress else None
        reports.append(indexer.ingest(read_source(name, None, settings), progress))
        done.add(name)
        store.update_metadata({"complete_sources": sorted(done)})
    return reports


@contextmanager
def existing_collection(settings: Settings, collection: str | None) -> Iterator[VectorStore]:
    """A collection that must exist already (maintenance commands), over a client closed afterwards."""
    client = open_client(settings)
    try:
        store = VectorStore(client, collection or settings.collection)
        if not store.exists():
            raise ValueError(f"Sammlung {store.collection!r} gibt es nicht; zuerst `heise-rag ingest ...`.")
        yield store
    finally:
        client.close()


def reembed(
    settings: Settings, collection: str | None = None, on_progress: Callable[[int], None] | None = None
) -> int | None:
    """Re-embed a collection whose dense vectors were made with another document prompt than the
    configured one; None when nothing was to do (see ``ingest/reembed.py``)."""
    with existing_collection(settings, collection) as store:
        embedder = Embedder.from_settings(settings)
        if not needs_reembedding(store, embedder):
            return None
        return reembed_dense(store, embedder, on_progress=on_progress)


def reweight_sparse(
    settings: Settings,
    collection: str | None = None,
    force: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> Refresh:
    """Recount a collection's BM25 statistics and re-encode its sparse vectors if they drifted."""
    with existing_collection(settings, collection) as store:
        return refresh_sparse(store, force=force, on_progress=on_progress)
