"""The store against a real HTTP server on loopback: retries with back-off, and a dead server named."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator

import pytest
from qdrant_client import QdrantClient

from rag.store.layout import StoreUnavailableError
from rag.store.vector_store import VectorStore


class FlakyQdrant(http.server.BaseHTTPRequestHandler):
    """Answers `collection exists` with 503 for the first ``failures`` requests, then with Qdrant's JSON."""

    failures = 2
    seen = 0

    def do_GET(self) -> None:
        if self.path == "/":
            body = {"title": "qdrant", "version": "1.16.0"}
        elif self.path.endswith("/exists"):
            type(self).seen += 1
            if type(self).seen <= self.failures:
                self.send_error(503, "busy")
                return
            body = {"result": {"exists": True}, "status": "ok", "time": 0.0}
        else:
            self.send_error(404)
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def flaky_url() -> Iterator[str]:
    FlakyQdrant.seen = 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FlakyQdrant)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_transient_server_errors_are_retried(flaky_url: str) -> None:
    store = VectorStore(QdrantClient(url=flaky_url, timeout=5), "heise", retries=3, backoff=0.01)
    assert store.exists() is True
    assert FlakyQdrant.seen == 3


def test_persistent_errors_name_the_server(flaky_url: str) -> None:
    FlakyQdrant.failures = 10
    try:
        store = VectorStore(QdrantClient(url=flaky_url, timeout=5), "heise", retries=2, backoff=0.01)
        with pytest.raises(StoreUnavailableError, match=f"Qdrant unter {flaky_url} ist nicht erreichbar"):
            store.exists()
        assert FlakyQdrant.seen == 3
    finally:
        FlakyQdrant.failures = 2
