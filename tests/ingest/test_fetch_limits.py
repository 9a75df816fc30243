"""Fetches and gzip input within bounds, against real HTTP servers on loopback.

Loopback stands in for every non-public address: the servers are reached only where the setting
allows 127.0.0.1, and refused where it does not.
"""

from __future__ import annotations

import contextlib
import gzip
import http.server
import ipaddress
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from ingest.sources.base import read_location
from ingest.sources.feed import read_feed
from ingest.sources.fetch import InputLimits
from rag.core.domain import Article, Skipped
from rag.core.settings import Settings, get_settings

FEED = (
    b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
    b"<link>https://www.heise.de/</link><item><title>Glasfaser-Ausbau stockt</title>"
    b"<link>https://www.heise.de/news/Glasfaser-9700001.html</link></item></channel></rss>"
)
BOMB = gzip.compress(b"\0" * 20_000_000)  # 20 kB that unpack to 20 MB


class Handler(http.server.BaseHTTPRequestHandler):
    """Routes for the limits: a feed, redirects, a slow body, a gzip-encoded bomb, a large body."""

    def _send(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path, _, target = self.path.partition("?to=")
        if path == "/feed.xml":
            self._send(200, FEED, Content_Type="application/rss+xml")
        elif path == "/redirect":
            self._send(302, Location=target)
        elif path == "/loop":
            self._send(302, Location="/loop")
        elif path == "/encoded-bomb":
            self._send(200, BOMB, Content_Type="application/rss+xml", Content_Encoding="gzip")
        elif path == "/large":
            self._send(200, b"x" * 200_000)
        elif path == "/slow":
            self.send_response(200)
            self.end_headers()
            with contextlib.suppress(ConnectionError):  # the client hangs up when its time is over
                for _ in range(20):
                    self.wfile.write(b"<")
                    self.wfile.flush()
                    time.sleep(0.2)
        else:
            self._send(404)

    def log_message(self, *args: object) -> None:  # keep the test output clean
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def limits(**overrides: object) -> InputLimits:
    return replace(InputLimits.from_settings(Settings(_env_file=None)), **overrides)


LOOPBACK = limits(allowed_networks=(ipaddress.ip_network("127.0.0.1/32"),))


def only_skip(items: list[Article | Skipped]) -> Skipped:
    [item] = items
    assert isinstance(item, Skipped), item
    return item


def test_loopback_is_refused_unless_the_setting_allows_it(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = server.rsplit(":", 1)[1]
    for url in (f"{server}/feed.xml", f"http://localhost:{port}/feed.xml"):  # by address and by name
        refused = only_skip(list(read_feed(url)))
        assert "(Loopback-Adresse)" in refused.reason and refused.reason.startswith(f"{url} nicht abrufbar: ")
    monkeypatch.setenv("HEISE_RAG_FETCH_ALLOWED_NETWORKS", "127.0.0.1/32")
    get_settings.cache_clear()
    try:
        [article] = read_feed(f"{server}/feed.xml")
    finally:
        get_settings.cache_clear()
    assert isinstance(article, Article) and article.title == "Glasfaser-Ausbau stockt"


def test_redirects_are_checked_at_every_hop_and_counted(server: str) -> None:
    followed = read_location(f"{server}/redirect?to=/feed.xml", limits=LOOPBACK)
    assert followed.data == FEED
    for target in ("http://169.254.169.254/latest/meta-data/", "http://127.0.0.2/feed.xml"):
        refused = only_skip(list(read_feed(f"{server}/redirect?to={target}", limits=LOOPBACK)))
        assert "Link-local-Adresse" in refused.reason or "Loopback-Adresse" in refused.reason, refused.reason
        assert " nicht abrufbar: abgelehnt: " in refused.reason
    loop = only_skip(list(read_feed(f"{server}/loop", limits=replace(LOOPBACK, max_redirects=3))))
    assert "zu viele Weiterleitungen" in loop.reason


def test_oversize_slow_and_gzip_bombs_are_refused(server: str, tmp_path: Path) -> None:
    small = replace(LOOPBACK, max_fetch_bytes=100_000, max_decompressed_bytes=1_000_000)
    large = only_skip(list(read_feed(f"{server}/large", limits=small)))
    assert "mehr als die Grenze von 100000" in large.reason
    started = time.monotonic()
    slow = only_skip(list(read_feed(f"{server}/slow", limits=replace(LOOPBACK, timeout_s=1.0))))
    assert "dauerte länger als 1 s" in slow.reason and time.monotonic() - started < 3
    encoded = only_skip(list(read_feed(f"{server}/encoded-bomb", limits=small)))
    assert "entpackt größer als 1000000 Bytes" in encoded.reason
    bomb = tmp_path / "feed.xml.gz"  # an upload or a local file: the same cap
    bomb.write_bytes(BOMB)
    from_file = only_skip(list(read_feed(bomb, limits=small)))
    assert from_file.reason == (
        f"{bomb} nicht lesbar: abgelehnt: die gzip-Daten werden entpackt größer als 1000000 Bytes"
    )
    fitting = tmp_path / "feed2.xml.gz"
    fitting.write_bytes(gzip.compress(FEED) + gzip.compress(b""))  # two members, like `cat a.gz b.gz`
    assert read_location(fitting, limits=small).data == FEED
