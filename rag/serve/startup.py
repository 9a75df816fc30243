"""`heise-rag serve tgi`: parse adapters, bind the socket, load the model, run uvicorn."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI

from rag.serve.defaults import DEFAULT_PAYLOAD_LIMIT, DEFAULT_REQUEST_TIMEOUT
from rag.serve.routes import create_app
from rag.serve.schemas import QUANTIZE
from rag.serve.server import TGIServer


def parse_lora_adapters(value: str | None) -> dict[str, str]:
    """TGI's ``--lora-adapters``: ``name=path,...``; a bare entry is its own name (a hub id)."""
    adapters: dict[str, str] = {}
    for item in (value or "").split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, path = item.partition("=")
        name, path = name.strip(), path.strip()
        if sep and (not name or not path):
            raise ValueError(f"ungültiger Eintrag {item!r} in --lora-adapters; erwartet: name=pfad")
        adapters[name] = path if sep else name
    return adapters


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind before loading the model, so a taken port fails at once; port 0 picks a free one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


@contextlib.contextmanager
def running_server(
    app: FastAPI, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning"
) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a background thread; yields the base URL (tests, benchmarks)."""
    import uvicorn

    sock = bind_socket(host, port)
    config = uvicorn.Config(app, log_level=log_level, lifespan="off", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the TGI-compatible server did not start")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def build_server(
    model: str,
    *,
    cache_dir: Any,
    quantize: str | None = None,
    lora_adapters: dict[str, str] | None = None,
    device: str = "cpu",
    dtype: str = "auto",
    engine: str = "transformers",
    threads: int | None = None,
    lookup_tokens: int = 0,
    max_input_tokens: int | None = None,
    max_total_tokens: int | None = None,
    max_concurrent_requests: int = 16,
    request_timeout: float | None = DEFAULT_REQUEST_TIMEOUT,
) -> TGIServer:
    """Load the model (and adapters) and wrap it; ``quantize`` takes TGI's names; ``engine`` is the
    runtime asked for (an ONNX engine falls back to transformers, with a warning, where it cannot run)."""
    from rag.generation.engine import load_engine

    if quantize is not None and quantize not in QUANTIZE:
        raise ValueError(f"--quantize {quantize!r} wird nicht unterstützt; möglich: {', '.join(QUANTIZE)}")
    loaded = load_engine(
        model,
        cache_dir=cache_dir,
        quantization=QUANTIZE[quantize] if quantize else "none",
        adapters=lora_adapters or None,
        device=device,
        dtype=dtype,
        runtime=engine,
        threads=threads,
        lookup_tokens=lookup_tokens,
    )
    return TGIServer(
        loaded,
        model_id=model,
        max_input_tokens=max_input_tokens,
        max_total_tokens=max_total_tokens,
        max_concurrent_requests=max_concurrent_requests,
        request_timeout=request_timeout,
    )


def is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def run(
    model: str,
    *,
    cache_dir: Any,
    host: str = "127.0.0.1",
    port: int = 8080,
    quantize: str | None = None,
    lora_adapters: dict[str, str] | None = None,
    device: str = "cpu",
    dtype: str = "auto",
    engine: str = "transformers",
    max_input_tokens: int | None = None,
    max_total_tokens: int | None = None,
    max_concurrent_requests: int = 16,
    request_timeout: float | None = DEFAULT_REQUEST_TIMEOUT,
    api_key: str | None = None,
    payload_limit: int = DEFAULT_PAYLOAD_LIMIT,
    threads: int | None = None,
    lookup_tokens: int = 0,
    log: Any = print,
) -> None:
    """`heise-rag serve tgi`: bind, load the model, then serve until interrupted."""
    import torch
    import uvicorn

    sock = bind_socket(host, port)
    if threads:
        torch.set_num_threads(threads)
    try:
        log(
            f"lade {model} (engine={engine}, dtype={dtype}, quantize={quantize or 'none'}, "
            f"adapters={sorted(lora_adapters or {})})"
        )
        server = build_server(
            model,
            cache_dir=cache_dir,
            quantize=quantize,
            lora_adapters=lora_adapters,
            device=device,
            dtype=dtype,
            engine=engine,
            threads=threads,
            lookup_tokens=lookup_tokens,
            max_input_tokens=max_input_tokens,
            max_total_tokens=max_total_tokens,
            max_concurrent_requests=max_concurrent_requests,
            request_timeout=request_timeout,
        )
        log(f"Engine: {server.engine.runtime}")
        if not api_key and not is_loopback(host):
            log(f"Warnung: {host} ist von außen erreichbar, aber kein API-Schlüssel ist gesetzt (--api-key)")
        bound_host, bound_port = sock.getsockname()[:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        log(f"TGI-kompatibler Server bereit: http://{shown}:{bound_port}")
        app = create_app(server, api_key=api_key, payload_limit=payload_limit)
        config = uvicorn.Config(app, log_level="info", timeout_graceful_shutdown=5)
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
