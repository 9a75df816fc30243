"""Scale benchmark: how embedded Qdrant's query latency and memory grow from 10k to 200k chunks.

Why synthetic vectors: the question is how the *store* scales, not the encoder, and embedding
200k real chunks would take hours on two cores. The corpus has the shape of the real one: 384-dim
unit vectors (multilingual-e5-small), BM25-like sparse vectors with Zipf-distributed term ids
(about 80 terms a chunk, 60k-term vocabulary) and the payload the ingest writes (published_at,
source, article_id, title, ~900 characters of text). The query is the ask path's: dense and
sparse prefetch (100 each) with a one-year date filter, fused by RRF (equal weights, k=60), 90 chunks back.

Three embedded engine configurations run through the project's own store (``open_client`` +
``VectorStore``) on the same corpus and queries:
- ``local``: qdrant-client's local mode (exact search in numpy and Python, filters evaluated per
  point, everything held in Python objects), ``HEISE_RAG_QDRANT_EMBEDDED_ENGINE=local``;
- ``edge``: qdrant-edge-py, Qdrant's Rust engine in-process (HNSW, sparse inverted index, payload
  indexes, memory-mapped segments), the default embedded engine;
- ``edge-int8``: the same with int8-quantized dense vectors in RAM and the originals on disk, the
  large-collection layout (``HEISE_RAG_QDRANT_QUANTIZATION=int8``, ``_ON_DISK_VECTORS=true``).

Each (engine, size) runs in a fresh process so its resident memory (RSS) is its own. The edge
engines answer every query several ways on the same store (``SEARCHES``): exactly, with Qdrant's
default HNSW ef, with larger search-time ``hnsw_ef`` values, and as configured (the settings'
``qdrant_hnsw_ef`` / ``qdrant_exact_below``, what users get). Each is timed for the hybrid query
and for the dense query alone (the default retrieval mode: dense top 90 under the same filter).

Agreement, the issue's measure of what the approximate index costs: the share of queries whose top
10 is the exact search's top 10 on the same engine and store, up to the order of equal scores (the
same scores at every rank, and every id scored as in the exact result). Why not identical id
lists: Qdrant's fusion orders equal scores arbitrarily, so the same RRF query twice returns its
tied chunks in different orders (a fifth of repeated queries here changed their top-10 id *set*
at the tie on rank 10), and the synthetic BM25 scores tie often. ``overlap`` is the gentler mean
share of the exact top-10 ids that come back. The top-10 overlap of the configured search with
local mode's exact ranking is kept as before; it also moves with those ties.
Query timing stops after ``--query-budget-s`` (at least 3 queries), which bounds
the slow local mode at large sizes.
Run with ``python -m bench.scale [--sizes 10000,50000,100000,200000] [--backends local,edge]``.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
from qdrant_client import models

from rag.core.settings import Settings
from rag.retrieval.search import SearchFilter
from rag.store.layout import DENSE, SPARSE
from rag.store.vector_store import VectorStore, open_client

DIM = 384
VOCAB = 60_000
TERMS_PER_CHUNK = 80
QUERY_TERMS = 6
FIRST_DAY = date(2015, 1, 1)
DAYS = 10 * 365
BATCH = 1_000
PREFETCH = 100
LIMIT = 90
WORDS = np.array(
    [
        "der",
        "die",
        "das",
        "und",
        "ist",
        "mit",
        "für",
        "auf",
        "von",
        "Sicherheitslücke",
        "Update",
        "Microsoft",
        "Exchange",
        "Server",
        "Linux",
        "Kernel",
        "Browser",
        "Firefox",
        "Chrome",
        "Datenschutz",
        "Cloud",
        "Rechenzentrum",
        "Prozessor",
        "Intel",
        "AMD",
        "Grafikkarte",
        "Smartphone",
        "Android",
        "Apple",
        "iPhone",
        "Patch",
        "Angriff",
        "Ransomware",
        "Behörde",
        "Gesetz",
        "Bundesregierung",
        "Netzausbau",
        "Glasfaser",
        "Mobilfunk",
        "Telekom",
        "Vodafone",
        "Künstliche",
        "Intelligenz",
        "Sprachmodell",
        "Open",
        "Source",
        "Entwickler",
        "Programmiersprache",
        "Rust",
        "Python",
        "Java",
        "Datenbank",
        "Speicher",
        "Festplatte",
        "SSD",
        "Notebook",
    ]
)


Hit = tuple[int, float]
"""A result's point id and score."""


@dataclass(frozen=True)
class Query:
    dense: list[float]
    sparse_indices: list[int]
    sparse_values: list[float]
    date_from: date
    date_to: date


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIM), dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _zipf_terms(rng: np.random.Generator, n: int) -> np.ndarray:
    """Term ids with a Zipf-like frequency, like words in news text."""
    return np.minimum(rng.zipf(1.3, n) - 1, VOCAB - 1)


def corpus_batches(size: int, seed: int = 7) -> Iterator[list[tuple[int, np.ndarray, dict, dict]]]:
    """(id, dense, sparse {indices, values}, payload) in batches; the same seed gives the same corpus."""
    for start in range(0, size, BATCH):
        rng = np.random.default_rng([seed, start])
        n = min(BATCH, size - start)
        dense = _unit(rng, n)
        days = rng.integers(0, DAYS, n)
        seconds = rng.integers(0, 86_400, n)
        batch = []
        for i in range(n):
            pid = start + i
            terms, counts = np.unique(_zipf_terms(rng, TERMS_PER_CHUNK), return_counts=True)
            values = counts / (counts + 1.2 * (0.25 + 0.75 * TERMS_PER_CHUNK / 80))
            published = datetime.combine(FIRST_DAY + timedelta(days=int(days[i])), datetime.min.time(), UTC)
            payload = {
                "article_id": str(pid // 4),
                "source": "heise" if pid % 10 else "10kgnad",
                "title": " ".join(rng.choice(WORDS, 8)),
                "url": f"https://www.heise.de/-{pid // 4}",
                "published_at": (published + timedelta(seconds=int(seconds[i]))).isoformat(),
                "text": " ".join(rng.choice(WORDS, 110)),
                "chunk_index": pid % 4,
                "n_chunks": 4,
                "content_hash": f"{pid // 4:016x}",
            }
            sparse = {"indices": terms.tolist(), "values": values.astype(float).tolist()}
            batch.append((pid, dense[i], sparse, payload))
        yield batch


def make_queries(n: int, seed: int = 11) -> list[Query]:
    rng = np.random.default_rng(seed)
    queries = []
    for vec in _unit(rng, n):
        terms = np.unique(_zipf_terms(rng, QUERY_TERMS) + 20)  # skip the stop-word-like head
        start = FIRST_DAY + timedelta(days=int(rng.integers(0, DAYS - 365)))
        queries.append(Query(vec.tolist(), terms.tolist(), [1.0] * len(terms), start, start + timedelta(364)))
    return queries


def rss_mb() -> float:
    """Current resident memory of this process (Linux), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


class StoreBackend:
    """The project's store (``open_client`` + ``VectorStore``) with one engine configuration, and
    the retriever's hybrid query on its client, so every engine runs the same code above it.

    ``local`` keeps qdrant-client's local mode in memory (``:memory:``): the search code and the
    in-memory data are the same as with a folder, but a folder commits one SQLite transaction per
    point (about 80-160 points/s here), which would make 200k points take most of an hour;
    ``persisted_ingest_rate`` measures that cost separately on a sample. The edge engines write to
    a folder, as they would in use, and are reopened after the ingest: closing builds the HNSW and
    payload indexes, and the reopened store is what a serving process sees.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = VectorStore(open_client(settings), "scale")
        self.store.create(DIM, {"bm25_avgdl": 80.0})

    def upsert(self, batch: list[tuple[int, np.ndarray, dict, dict]]) -> None:
        self.store.upsert(
            [
                models.PointStruct(
                    id=pid, vector={DENSE: vec.tolist(), SPARSE: models.SparseVector(**sp)}, payload=payload
                )
                for pid, vec, sp, payload in batch
            ]
        )

    def finish(self) -> None:
        if self.settings.qdrant_embedded_engine == "edge":
            self.store.client.close()
            self.store = VectorStore(open_client(self.settings), "scale")

    def query(self, q: Query, kind: str, params: models.SearchParams | None) -> list[Hit]:
        """The retriever's ``hybrid`` query (dense and sparse prefetch, RRF) or its ``dense`` one;
        ``params`` (None: as configured) go to the dense search."""
        qfilter = SearchFilter(q.date_from, q.date_to).to_qdrant()
        client, name = self.store.client, self.store.collection
        if kind == "dense":
            response = client.query_points(
                name, query=q.dense, using=DENSE, query_filter=qfilter, limit=LIMIT, search_params=params
            )
            return [(int(p.id), p.score) for p in response.points]
        sparse = models.SparseVector(indices=q.sparse_indices, values=q.sparse_values)
        response = client.query_points(
            name,
            prefetch=[
                models.Prefetch(query=q.dense, using=DENSE, limit=PREFETCH, filter=qfilter, params=params),
                models.Prefetch(query=sparse, using=SPARSE, limit=PREFETCH, filter=qfilter),
            ],
            query=models.RrfQuery(rrf=models.Rrf(k=60, weights=[1.0, 1.0])),
            limit=LIMIT,
            with_payload=True,
        )
        return [(int(p.id), p.score) for p in response.points]

    def close(self) -> None:
        self.store.client.close()


def engine_settings(backend: str, folder: Path | None) -> Settings:
    """``local``, ``edge`` (full-precision vectors in RAM) or ``edge-int8`` (int8 in RAM, originals
    on disk: the large-collection layout of infra/README.md)."""
    if backend == "local":
        return Settings(
            _env_file=None,
            qdrant_url=None,
            qdrant_path=str(folder or ":memory:"),
            qdrant_embedded_engine="local",
        )
    int8 = backend == "edge-int8"
    return Settings(
        _env_file=None,
        qdrant_url=None,
        qdrant_path=str(folder),
        qdrant_embedded_engine="edge",
        qdrant_quantization="int8" if int8 else "none",
        qdrant_on_disk_vectors=int8,
    )


BACKENDS = ("local", "edge", "edge-int8")


def persisted_ingest_rate(n: int = 2_000) -> float:
    """Chunks per second into a local-mode *folder* (``HEISE_RAG_QDRANT_EMBEDDED_ENGINE=local``)."""
    with tempfile.TemporaryDirectory(prefix="scale-persist-") as tmp:
        backend = StoreBackend(engine_settings("local", Path(tmp) / "store"))
        started = time.perf_counter()
        for batch in corpus_batches(n):
            backend.upsert(batch)
        rate = n / (time.perf_counter() - started)
        backend.close()
    return round(rate, 1)


SEARCHES: dict[str, models.SearchParams | None] = {
    "exact": models.SearchParams(exact=True),
    "hnsw_ef_default": models.SearchParams(),  # Qdrant's default: ef_construct, at least the limit
    "hnsw_ef_256": models.SearchParams(hnsw_ef=256),
    "hnsw_ef_512": models.SearchParams(hnsw_ef=512),
    "configured": None,
}
"""Search parameters the edge engines are timed with; local mode is exact and ignores them."""


def measure(backend_name: str, size: int, n_queries: int, query_budget_s: float) -> dict[str, object]:
    """Ingest ``size`` chunks, then time queries; runs in its own process (see the module docstring)."""
    queries = make_queries(n_queries)
    searches = {"configured": None} if backend_name == "local" else SEARCHES
    kinds = ("hybrid",) if backend_name == "local" else ("hybrid", "dense")
    with tempfile.TemporaryDirectory(prefix=f"scale-{backend_name}-") as tmp:
        rss_start = rss_mb()
        started = time.perf_counter()
        folder = None if backend_name == "local" else Path(tmp) / "store"
        backend = StoreBackend(engine_settings(backend_name, folder))
        for batch in corpus_batches(size):
            backend.upsert(batch)
        backend.finish()
        ingest_s = time.perf_counter() - started
        rss_ingested = rss_mb()
        backend.query(queries[0], "hybrid", None)  # first query pays lazy loading; not timed
        latencies: dict[tuple[str, str], list[float]] = {(s, k): [] for s in searches for k in kinds}
        hits: dict[tuple[str, str], list[list[Hit]]] = {key: [] for key in latencies}
        budget_end = time.perf_counter() + query_budget_s
        order = list(searches.items())
        for n, q in enumerate(queries):
            # Interleaved, so load hits all alike, and rotated: the first search of a query warms
            # the caches (payload index, vectors) for the others.
            for search, params in order[n % len(order) :] + order[: n % len(order)]:
                for kind in kinds:
                    t0 = time.perf_counter()
                    found = backend.query(q, kind, params)
                    latencies[search, kind].append(time.perf_counter() - t0)
                    hits[search, kind].append(found)
            if time.perf_counter() > budget_end and len(hits["configured", "hybrid"]) >= 3:
                break
        rss_end = rss_mb()
        disk = sum(f.stat().st_size for f in Path(tmp).rglob("*") if f.is_file())
        backend.close()
    hybrid = sorted(latencies["configured", "hybrid"])
    row: dict[str, object] = {
        "backend": backend_name,
        "chunks": size,
        "ingest_s": round(ingest_s, 2),
        "ingest_chunks_per_s": round(size / ingest_s),
        "queries": len(hybrid),
        "query_p50_ms": _ms(statistics.median(hybrid)),
        "query_p95_ms": _ms(hybrid[min(len(hybrid) - 1, round(0.95 * (len(hybrid) - 1)))]),
        "rss_before_mb": round(rss_start),
        "rss_after_ingest_mb": round(rss_ingested),
        "rss_after_queries_mb": round(rss_end),
        "rss_growth_mb": round(rss_end - rss_start),
        "disk_mb": round(disk / 2**20, 1),
        "top10": [[pid for pid, _ in found[:10]] for found in hits["configured", "hybrid"]],
    }
    if "exact" in searches:
        row["searches"] = {
            search: {
                f"{kind}_{name}": value
                for kind in kinds
                for name, value in (
                    ("p50_ms", _ms(statistics.median(latencies[search, kind]))),
                    ("agreement", agreement(hits["exact", kind], hits[search, kind])),
                    ("overlap", round(overlap(_ids(hits["exact", kind]), _ids(hits[search, kind])), 3)),
                )
            }
            for search in searches
        }
    return row


def _ms(seconds: float) -> float:
    return round(1000 * seconds, 2)


def _ids(results: list[list[Hit]]) -> list[list[int]]:
    return [[pid for pid, _ in found[:10]] for found in results]


def same_ranking(exact: list[Hit], other: list[Hit], k: int = 10) -> bool:
    """Whether ``other``'s top ``k`` is ``exact``'s up to the order of equal scores: the same score at
    every rank, and each id scored as in the exact result (whose whole list counts, as a tie on
    rank ``k`` may be cut either way)."""
    scored = dict(exact)
    return len(other[:k]) == len(exact[:k]) and all(
        math.isclose(s, e, abs_tol=1e-5) and pid in scored and math.isclose(scored[pid], s, abs_tol=1e-5)
        for (pid, s), (_, e) in zip(other[:k], exact[:k], strict=True)
    )


def agreement(exact: list[list[Hit]], other: list[list[Hit]]) -> float:
    """Share of queries whose top 10 agrees with the exact search's (``same_ranking``)."""
    pairs = list(zip(exact, other, strict=True))
    return round(sum(same_ranking(x, y) for x, y in pairs) / len(pairs), 3)


def overlap(a: list[list[int]], b: list[list[int]]) -> float:
    """Mean share of the exact top 10 that the other backend also returns."""
    pairs = list(zip(a, b, strict=False))
    return statistics.mean(len(set(x) & set(y)) / max(1, len(x)) for x, y in pairs) if pairs else float("nan")


def run(
    sizes: list[int], backends: list[str], n_queries: int, query_budget_s: float, output: Path
) -> dict[str, object]:
    """Every (engine, size) in its own process; the JSON is rewritten after each size, so an
    interrupted run keeps what it measured. Rows keep their top-10 ids (the queries are the same in
    every run), so runs of single engines can be compared with ``overlap`` afterwards."""
    ctx = multiprocessing.get_context("spawn")
    result: dict[str, object] = {"rows": [], "complete": False}
    output.parent.mkdir(parents=True, exist_ok=True)
    for size in sizes:
        by_backend = {}
        for name in backends:
            with ctx.Pool(1) as pool:
                by_backend[name] = pool.apply(measure, (name, size, n_queries, query_budget_s))
        if "local" in by_backend:
            for name in set(by_backend) - {"local"}:
                by_backend[name]["top10_overlap_with_local"] = round(
                    overlap(by_backend["local"]["top10"], by_backend[name]["top10"]), 3
                )
        for name, row in by_backend.items():
            print(
                f"{name:9s} {size:>7d} chunks: ingest {row['ingest_s']:7.1f} s, query p50 "
                f"{row['query_p50_ms']:8.1f} ms p95 {row['query_p95_ms']:8.1f} ms, "
                f"RSS +{row['rss_growth_mb']} MB, top-10 overlap {row.get('top10_overlap_with_local', '-')}",
                flush=True,
            )
            for search, cells in row.get("searches", {}).items():
                print(f"    {search:16s} " + ", ".join(f"{k} {v}" for k, v in cells.items()), flush=True)
            result["rows"].append(row)  # type: ignore[union-attr]
        result["measured_at"] = datetime.now(UTC).isoformat()
        output.write_text(json.dumps(result, indent=2))
    if "local" in backends:
        with ctx.Pool(1) as pool:
            result["local_folder_ingest_chunks_per_s"] = pool.apply(persisted_ingest_rate)
    result["complete"] = True
    output.write_text(json.dumps(result, indent=2))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,50000,100000,200000", help="comma-separated chunk counts")
    parser.add_argument(
        "--backends", default=",".join(BACKENDS), help=f"comma-separated: {', '.join(BACKENDS)}"
    )
    parser.add_argument("--queries", type=int, default=50, help="queries per size (fewer if over budget)")
    parser.add_argument("--query-budget-s", type=float, default=60.0, help="query time per run, then stop")
    parser.add_argument("--output", type=Path, default=Path("var/bench/scale.json"))
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    backends = [b for b in args.backends.split(",") if b]
    print(json.dumps(run(sizes, backends, args.queries, args.query_budget_s, args.output), indent=2))


if __name__ == "__main__":
    main()
