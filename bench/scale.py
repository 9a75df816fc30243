"""Scale benchmark: how embedded Qdrant's query latency and memory grow from 10k to 200k chunks.

Why synthetic vectors: the question is how the *store* scales, not the encoder, and embedding
200k real chunks would take hours on two cores. The corpus has the shape of the real one: 384-dim
unit vectors (multilingual-e5-small), BM25-like sparse vectors with Zipf-distributed term ids
(about 80 terms a chunk, 60k-term vocabulary) and the payload the ingest writes (published_at,
source, article_id, title, ~900 characters of text). The query is the ask path's: dense and
sparse prefetch (100 each) with a one-year date filter, fused by weighted RRF, 90 chunks back.

Three embedded engine configurations run through the project's own store (``open_client`` +
``VectorStore``) on the same corpus and queries:
- ``local``: qdrant-client's local mode, the default embedded store (exact search in numpy and
  Python, filters evaluated per point, everything held in Python objects);
- ``edge``: qdrant-edge-py, Qdrant's Rust engine in-process (HNSW, sparse inverted index, payload
  indexes, memory-mapped segments), ``HEISE_RAG_QDRANT_EMBEDDED_ENGINE=edge``;
- ``edge-int8``: the same with int8-quantized dense vectors in RAM and the originals on disk, the
  large-collection layout (``HEISE_RAG_QDRANT_QUANTIZATION=int8``, ``_ON_DISK_VECTORS=true``).

Each (engine, size) runs in a fresh process so its resident memory (RSS) is its own; the top-10
overlap with the exact ``local`` ranking shows what the approximate index costs. Query timing stops
after ``--query-budget-s`` (at least 3 queries), which bounds the slow local mode at large sizes.
Run with ``python -m bench.scale [--sizes 10000,50000,100000,200000] [--backends local,edge]``.
"""

from __future__ import annotations

import argparse
import json
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

    def query(self, q: Query) -> list[int]:
        qfilter = SearchFilter(q.date_from, q.date_to).to_qdrant()
        sparse = models.SparseVector(indices=q.sparse_indices, values=q.sparse_values)
        response = self.store.client.query_points(
            self.store.collection,
            prefetch=[
                models.Prefetch(query=q.dense, using=DENSE, limit=PREFETCH, filter=qfilter),
                models.Prefetch(query=sparse, using=SPARSE, limit=PREFETCH, filter=qfilter),
            ],
            query=models.RrfQuery(rrf=models.Rrf(k=60, weights=[1.0, 1.0])),
            limit=LIMIT,
            with_payload=True,
        )
        return [int(p.id) for p in response.points]

    def close(self) -> None:
        self.store.client.close()


def engine_settings(backend: str, folder: Path | None) -> Settings:
    """``local``, ``edge`` (full-precision vectors in RAM) or ``edge-int8`` (int8 in RAM, originals
    on disk: the large-collection layout of infra/README.md)."""
    if backend == "local":
        return Settings(_env_file=None, qdrant_url=None, qdrant_path=str(folder or ":memory:"))
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
    """Chunks per second into a local-mode *folder*, the project's default embedded store."""
    with tempfile.TemporaryDirectory(prefix="scale-persist-") as tmp:
        backend = StoreBackend(engine_settings("local", Path(tmp) / "store"))
        started = time.perf_counter()
        for batch in corpus_batches(n):
            backend.upsert(batch)
        rate = n / (time.perf_counter() - started)
        backend.close()
    return round(rate, 1)


def measure(backend_name: str, size: int, n_queries: int, query_budget_s: float) -> dict[str, object]:
    """Ingest ``size`` chunks, then time queries; runs in its own process (see the module docstring)."""
    queries = make_queries(n_queries)
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
        backend.query(queries[0])  # first query pays lazy loading; not timed
        latencies, top10 = [], []
        budget_end = time.perf_counter() + query_budget_s
        for q in queries:
            t0 = time.perf_counter()
            ids = backend.query(q)
            latencies.append(time.perf_counter() - t0)
            top10.append(ids[:10])
            if time.perf_counter() > budget_end and len(latencies) >= 3:
                break
        rss_end = rss_mb()
        disk = sum(f.stat().st_size for f in Path(tmp).rglob("*") if f.is_file())
        backend.close()
    lat = sorted(latencies)
    return {
        "backend": backend_name,
        "chunks": size,
        "ingest_s": round(ingest_s, 2),
        "ingest_chunks_per_s": round(size / ingest_s),
        "queries": len(lat),
        "query_p50_ms": round(1000 * statistics.median(lat), 2),
        "query_p95_ms": round(1000 * lat[min(len(lat) - 1, round(0.95 * (len(lat) - 1)))], 2),
        "rss_before_mb": round(rss_start),
        "rss_after_ingest_mb": round(rss_ingested),
        "rss_after_queries_mb": round(rss_end),
        "rss_growth_mb": round(rss_end - rss_start),
        "disk_mb": round(disk / 2**20, 1),
        "top10": top10,
    }


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
