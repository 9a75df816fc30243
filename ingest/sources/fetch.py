"""Untrusted inputs read within bounds: URLs only from public addresses, with limits on size, time and
redirects, and gzip data decompressed step by step up to a cap.

Why: the app's index page fetches whatever URL a user types, and the feed source follows every
entry's link. Unbounded, a URL makes the server read its own network (cloud metadata at
169.254.169.254, an admin port on localhost, a Qdrant server behind the firewall), hang on a server
that trickles, or fill memory with an endless body or a small gzip file that unpacks to gigabytes.

Why the check sits in httpcore's network backend: the address is checked when each connection is
made, after DNS resolution, and the connection goes to exactly the address that passed; redirects
open their connections through the same check. A check of the host name before the request could
be answered with a public address and the connection then made to a private one (DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import socket
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

import httpcore
import httpx

from rag.core.settings import Settings

USER_AGENT = "heise-rag/0.1 (German news retrieval research)"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class FetchError(Exception):
    """A URL could not be read (HTTP error status, unsupported encoding); the message says why."""


class InputRefused(FetchError):
    """An input broke a limit (address, size, decompressed size, time); the message names the limit."""


@dataclass(frozen=True)
class InputLimits:
    """The bounds every file and URL is read within; ``from_settings`` is the usual source."""

    allowed_networks: tuple[IPNetwork, ...]
    max_fetch_bytes: int
    max_decompressed_bytes: int
    timeout_s: float
    max_redirects: int

    @classmethod
    def from_settings(cls, settings: Settings) -> InputLimits:
        return cls(
            allowed_networks=tuple(settings.fetch_allowed_networks),
            max_fetch_bytes=settings.fetch_max_bytes,
            max_decompressed_bytes=settings.max_decompressed_bytes,
            timeout_s=settings.fetch_timeout_s,
            max_redirects=settings.fetch_max_redirects,
        )


def non_public_kind(address: IPAddress) -> str | None:
    """What kind of non-public address this is (loopback, link-local, private, ...), or None if public."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 reaches 127.0.0.1
    for kind, found in (
        ("Loopback-Adresse", address.is_loopback),
        ("Link-local-Adresse", address.is_link_local),
        ("private Adresse", address.is_private),
        ("Multicast-Adresse", address.is_multicast),
        ("nicht öffentliche Adresse", not address.is_global),
    ):
        if found:
            return kind
    return None


class _PublicOnlyBackend(httpcore.NetworkBackend):
    """httpcore's socket backend, connecting only to checked addresses of the resolved host."""

    def __init__(self, allowed_networks: Iterable[IPNetwork]) -> None:
        self._allowed = tuple(allowed_networks)
        self._sockets = httpcore.SyncBackend()

    def _check(self, host: str, address: IPAddress) -> None:
        kind = non_public_kind(address)
        if kind and not any(address in network for network in self._allowed):
            raise InputRefused(
                f"abgelehnt: {host} liegt auf {address} ({kind}) "
                "(HEISE_RAG_FETCH_ALLOWED_NETWORKS gibt gewählte Netze frei)"
            )

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as err:
            raise httpcore.ConnectError(f"{host} nicht auflösbar: {err}") from err
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in found))
        for address in addresses:  # every address first: the connection may use any of them
            self._check(host, address)
        failure: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                return self._sockets.connect_tcp(str(address), port, timeout, local_address, socket_options)
            except httpcore.ConnectError as err:
                failure = err
        assert failure is not None  # getaddrinfo returns at least one address or raises
        raise failure

    def sleep(self, seconds: float) -> None:
        self._sockets.sleep(seconds)


class _PublicOnlyTransport(httpx.HTTPTransport):
    """httpx's transport on a connection pool whose every connection goes through the address check."""

    def __init__(self, allowed_networks: Iterable[IPNetwork]) -> None:
        super().__init__(trust_env=False)
        # httpx offers no parameter for the network backend; its pool is httpcore's, which does.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            network_backend=_PublicOnlyBackend(allowed_networks),
        )


def gunzip(data: bytes, limit: int) -> bytes:
    """The decompressed content of gzip ``data`` (every member), refused once it passes ``limit`` bytes.

    Decompressed in steps of at most what is left of the limit, so a gzip bomb never gets more
    than ``limit`` bytes of memory.
    """
    out = bytearray()
    while data:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        while data and not inflater.eof:
            out += inflater.decompress(data, limit + 1 - len(out))
            if len(out) > limit:
                raise InputRefused(f"abgelehnt: die gzip-Daten werden entpackt größer als {limit} Bytes")
            data = inflater.unconsumed_tail
        if not inflater.eof:
            raise EOFError("Compressed file ended before the end-of-stream marker was reached")
        data = inflater.unused_data.lstrip(b"\0")  # the next member, after optional padding
    return bytes(out)


def _body(response: httpx.Response, limits: InputLimits, deadline: float) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limits.max_fetch_bytes:
        raise InputRefused(f"abgelehnt: {declared} Bytes, mehr als die Grenze von {limits.max_fetch_bytes}")
    body = bytearray()
    for chunk in response.iter_raw():  # as sent: the Content-Encoding is undone below, with a cap
        body += chunk
        if len(body) > limits.max_fetch_bytes:
            raise InputRefused(f"abgelehnt: mehr als die Grenze von {limits.max_fetch_bytes} Bytes")
        if time.monotonic() > deadline:
            raise InputRefused(f"abgelehnt: dauerte länger als {limits.timeout_s:g} s")
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding in ("gzip", "x-gzip"):
        return gunzip(bytes(body), limits.max_decompressed_bytes)
    if encoding != "identity":
        raise FetchError(f"Content-Encoding {encoding!r} wird nicht unterstützt")
    return bytes(body)


def fetch(url: str, limits: InputLimits) -> tuple[bytes, str | None]:
    """The body of ``url`` (a GET, redirects followed) and the charset the server declared for it.

    Each network step waits at most ``timeout_s``; the body must also arrive within ``timeout_s``
    of the start, so a server that trickles one byte at a time is cut off too.
    """
    deadline = time.monotonic() + limits.timeout_s
    client = httpx.Client(
        transport=_PublicOnlyTransport(limits.allowed_networks),
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip"},
        timeout=limits.timeout_s,
        follow_redirects=True,
        max_redirects=limits.max_redirects,
        trust_env=False,
    )
    with client, client.stream("GET", url) as response:
        if response.is_error:
            raise FetchError(f"HTTP-Fehler {response.status_code}")
        return _body(response, limits, deadline), response.charset_encoding
