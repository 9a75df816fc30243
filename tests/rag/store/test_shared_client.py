"""One store client shared by a writer thread and readers (the app's background index build)."""

from __future__ import annotations

import threading
from pathlib import Path

from qdrant_client import QdrantClient, models

from rag.store.shared_client import SharedClient

DIM = 8


def test_queries_beside_a_writer_thread_all_succeed_on_local_mode(tmp_path: Path) -> None:
    """Local mode grows numpy arrays under a running query; the shared client serializes the calls."""
    client = SharedClient(QdrantClient(path=str(tmp_path / "store")))
    vectors = models.VectorParams(size=DIM, distance=models.Distance.COSINE)
    client.create_collection("c", vectors_config=vectors)
    errors: list[BaseException] = []
    written = 300

    def write() -> None:
        try:
            for i in range(written):
                vector = [float((i + j) % 5 + 1) for j in range(DIM)]
                client.upsert("c", points=[models.PointStruct(id=i, vector=vector)])
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    queries = 0
    while writer.is_alive() or queries < 50:
        try:
            client.query_points("c", query=[1.0] * DIM, limit=5)
        except BaseException as exc:
            errors.append(exc)
            break
        queries += 1
    writer.join()
    assert not errors, errors
    assert client.count("c").count == written
    assert client.collection_exists("c")  # methods pass through; attributes too
    client.close()
