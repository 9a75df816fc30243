"""The server-mode settings reach Qdrant: the create-collection request a cluster receives, and the
embedded store accepting the same layout (it ignores the server parts)."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import ClassVar

import pytest
from qdrant_client import models

from rag.core.settings import Settings
from rag.store.layout import DENSE, SPARSE, CollectionLayout
from rag.store.vector_store import VectorStore, open_client

# qdrant-client checks the server version in the background; a test server may be gone by then
pytestmark = pytest.mark.filterwarnings("ignore:Failed to obtain server version")


class RecordingQdrant(http.server.BaseHTTPRequestHandler):
    """Answers like Qdrant and keeps each request's method, path and JSON body."""

    requests: ClassVar[list[tuple[str, str, dict]]] = []

    def _answer(self, result: object) -> None:
        data = json.dumps({"result": result, "status": "ok", "time": 0.0}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _record(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else {}
        type(self).requests.append((self.command, self.path.split("?")[0], body))
        creates_collection = self.command == "PUT" and self.path.count("/") == 2
        self._answer(True if creates_collection else {"operation_id": 1, "status": "completed"})

    def do_GET(self) -> None:
        if self.path == "/":
            data = json.dumps({"title": "qdrant", "version": "1.19.0"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        else:
            self.send_error(404)

    do_PUT = do_POST = _record

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def qdrant_url() -> Iterator[str]:
    RecordingQdrant.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RecordingQdrant)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def cluster_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "qdrant_shards": 6,
        "qdrant_replication_factor": 2,
        "qdrant_write_consistency": 2,
        "qdrant_on_disk_vectors": True,
        "qdrant_quantization": "int8",
        "qdrant_hnsw_m": 32,
        "qdrant_hnsw_ef_construct": 200,
    }
    return Settings(_env_file=None, **(values | overrides))


def test_server_collection_is_created_with_the_configured_layout(qdrant_url: str) -> None:
    client = open_client(cluster_settings(qdrant_url=qdrant_url))
    VectorStore(client, "heise", retries=0).create(384, {"dim": 384})
    method, path, body = RecordingQdrant.requests[0]
    assert (method, path) == ("PUT", "/collections/heise")
    assert body["shard_number"] == 6
    assert body["replication_factor"] == 2
    assert body["write_consistency_factor"] == 2
    dense = body["vectors"][DENSE]
    assert dense["size"] == 384 and dense["distance"] == "Cosine" and dense["on_disk"] is True
    assert dense["hnsw_config"] == {"m": 32, "ef_construct": 200}
    assert dense["quantization_config"]["scalar"] == {"type": "int8", "quantile": 0.99, "always_ram": True}
    assert body["sparse_vectors"][SPARSE]["modifier"] == "idf"
    assert body["metadata"] == {"dim": 384}
    indexed = {b["field_name"] for _, p, b in RecordingQdrant.requests[1:] if p == "/collections/heise/index"}
    assert indexed == {"published_at", "source", "article_id"}


def test_defaults_keep_full_precision_vectors_in_ram(qdrant_url: str) -> None:
    client = open_client(Settings(_env_file=None, qdrant_url=qdrant_url))
    VectorStore(client, "heise", retries=0).create(384, {})
    body = RecordingQdrant.requests[0][2]
    assert body["shard_number"] == 1 and body["replication_factor"] == 1
    assert body["vectors"][DENSE]["on_disk"] is False
    assert body["vectors"][DENSE].get("quantization_config") is None


def test_write_consistency_above_the_replica_count_is_rejected() -> None:
    with pytest.raises(ValueError, match="qdrant_write_consistency"):
        cluster_settings(qdrant_replication_factor=1, qdrant_write_consistency=2)


def test_embedded_store_accepts_the_cluster_layout_and_searches() -> None:
    client = open_client(cluster_settings(qdrant_path=":memory:"))
    store = VectorStore(client, "heise")
    assert store.layout == CollectionLayout(6, 2, 2, True, "int8", 32, 200)
    store.create(4, {"dim": 4})
    store.upsert(
        [
            models.PointStruct(
                id=i,
                vector={
                    DENSE: [1.0, float(i), 0.0, 0.0],
                    SPARSE: models.SparseVector(indices=[i], values=[1.0]),
                },
                payload={"source": "heise", "article_id": str(i)},
            )
            for i in range(3)
        ]
    )
    hits = client.query_points("heise", query=[1.0, 0.0, 0.0, 0.0], using=DENSE, limit=1).points
    assert store.count() == 3 and hits[0].id == 0
