"""Copy a collection, vectors included, to build a variant of an index without re-embedding it.

Why: the evaluation needs the default corpus with the XQuAD paragraphs added as needles among
distractors. Re-embedding 16k chunks costs most of an hour on a small CPU; copying the stored
vectors takes about a minute. The copy keeps the source's metadata (embedding model, dimension,
BM25 average length), so later ingests into it score exactly like ingests into the source.
"""

from __future__ import annotations

from collections.abc import Callable

from qdrant_client import models

from rag.store.layout import DENSE
from rag.store.vector_store import VectorStore

COPIED_FROM = "copied_from"


def copy_collection(
    source: VectorStore,
    target: VectorStore,
    batch: int = 512,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Copy every point of ``source`` into ``target``; returns the points copied, 0 if done before.

    A copy that was interrupted is redone from the start: point ids are the source's, so the
    upserts overwrite instead of duplicating, and the completion mark is written last.
    """
    if not source.exists():
        raise ValueError(f"Sammlung {source.collection!r} gibt es nicht")
    if target.exists():
        meta = target.metadata()
        if meta.get(COPIED_FROM) == source.collection and meta.get("copy_complete"):
            return 0
        if meta.get(COPIED_FROM) != source.collection:
            raise ValueError(
                f"Sammlung {target.collection!r} gibt es schon und ist keine Kopie von {source.collection!r}"
            )
    else:
        meta = source.metadata()
        dim = int(meta.get("dim") or _dense_size(source))  # type: ignore[call-overload]
        kept = {k: v for k, v in meta.items() if k not in ("complete_sources", "copy_complete")}
        target.create(dim, kept | {COPIED_FROM: source.collection})
    copied, offset = 0, None
    while True:
        points, offset = source.client.scroll(
            source.collection, limit=batch, offset=offset, with_payload=True, with_vectors=True
        )
        if points:
            target.upsert(
                [models.PointStruct(id=p.id, vector=p.vector or {}, payload=p.payload) for p in points]
            )
            copied += len(points)
            if on_progress:
                on_progress(len(points))
        if offset is None:
            break
    target.update_metadata({"copy_complete": True})
    return copied


def _dense_size(store: VectorStore) -> int:
    vectors = store.client.get_collection(store.collection).config.params.vectors
    assert isinstance(vectors, dict), "collections of this project have named vectors"
    return vectors[DENSE].size
