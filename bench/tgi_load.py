"""Load test of the TGI-compatible server: throughput and latency at 1, 4 and 16 concurrent clients.

Run with `python -m bench.tgi_load [--requests N] [--clients 1,4,16] [--max-concurrent 8]`. The
server (tiny-random-llama, float32, an API key set) runs in this process on a loopback port; each
level sends a bounded number of short greedy ``/v1/chat/completions`` requests from that many
client threads. With more clients than ``--max-concurrent`` slots the server must refuse the rest
with TGI's documented 429 at once; any other status is an error and fails the run. Latency
percentiles are over the answered (200) requests. The tiny model makes this a test of the server's
request handling (auth, limits, slots, queueing for the one model), not of a model's speed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from rag.core.settings import get_settings
from rag.serve.routes import create_app
from rag.serve.startup import build_server, running_server

DOCUMENTED = {200, 429}  # answered, or refused as overloaded
API_KEY = "bench-key"
MODEL = "tiny-random-llama"


@dataclass(frozen=True)
class Level:
    clients: int
    requests: int
    seconds: float
    statuses: dict[int, int]
    throughput: float  # answered requests per second
    p50_ms: float
    p95_ms: float


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run_level(url: str, clients: int, requests: int, max_tokens: int) -> Level:
    """``requests`` requests shared among ``clients`` threads, each sending one after another."""
    body = {
        "messages": [{"role": "user", "content": "Was gibt es Neues bei heise?"}],
        "max_tokens": max_tokens,
        "temperature": 0,
    }
    headers = {"Authorization": f"Bearer {API_KEY}"}
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    remaining = iter(range(requests))

    def client() -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=120) as http:
            while True:
                with lock:
                    if next(remaining, None) is None:
                        return
                started = time.perf_counter()
                status = http.post("/v1/chat/completions", json=body).status_code
                elapsed = time.perf_counter() - started
                with lock:
                    statuses[status] += 1
                    if status == 200:
                        latencies.append(elapsed)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    return Level(
        clients=clients,
        requests=requests,
        seconds=seconds,
        statuses=dict(statuses),
        throughput=statuses[200] / seconds,
        p50_ms=1000 * statistics.median(latencies) if latencies else float("nan"),
        p95_ms=1000 * percentile(latencies, 0.95),
    )


def load_test(clients: list[int], requests: int, max_concurrent: int, max_tokens: int = 16) -> list[Level]:
    """Every level against one server; raises when a status other than 200/429 occurs."""
    server = build_server(
        MODEL, cache_dir=get_settings().model_cache_dir, max_concurrent_requests=max_concurrent
    )
    with running_server(create_app(server, api_key=API_KEY)) as url:
        run_level(url, 1, 2, max_tokens)  # warm-up: first-call costs stay out of the table
        levels = [run_level(url, n, requests, max_tokens) for n in clients]
    unexpected = {s for level in levels for s in level.statuses} - DOCUMENTED
    if unexpected:
        raise RuntimeError(f"undocumented statuses: {sorted(unexpected)}")
    return levels


def table(levels: list[Level], max_concurrent: int) -> str:
    rows = [
        f"Server slots (--max-concurrent-requests): {max_concurrent}",
        "",
        "| clients | requests | 200 | 429 | answered/s | p50 ms | p95 ms |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for level in levels:
        rows.append(
            f"| {level.clients} | {level.requests} | {level.statuses.get(200, 0)} | "
            f"{level.statuses.get(429, 0)} | {level.throughput:.1f} | "
            f"{level.p50_ms:.0f} | {level.p95_ms:.0f} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="1,4,16", help="Concurrency levels, comma-separated.")
    parser.add_argument("--requests", type=int, default=64, help="Requests per level (bounded).")
    parser.add_argument("--max-concurrent", type=int, default=8, help="Server slots; more get 429.")
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--output", type=Path, default=None, help="Also write the levels as JSON.")
    args = parser.parse_args()
    levels = load_test(
        [int(n) for n in args.clients.split(",")], args.requests, args.max_concurrent, args.max_tokens
    )
    print(table(levels, args.max_concurrent))
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps([asdict(level) for level in levels], indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
