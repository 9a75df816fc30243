"""Ingest benchmark: pipeline vs bare encoder throughput, peak memory, unchanged re-ingest.

Run with `make bench` (or `python -m bench.ingest [--limit N]`). Targets from the ingest issue:
pipeline throughput >= 85 % of the bare encoder on the same chunks, peak memory < 3 GB while
ingesting all default data, and a second unchanged ingest < 5 % of the first. Absolute times on a
shared machine are noise; the ratios are measured in one process, one after the other.

The encoder issue (#21 part 3) adds the bare encoder's throughput per variant (torch float32, torch
with bf16 autocast, ONNX float32, ONNX int8; same chunks, same batch size, blocks alternating) and
each one's ratio to float32 torch (target >= 2x); `--backends torch` skips it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import tempfile
import time
from pathlib import Path

from ingest.service import DEFAULT_SOURCES, make_indexer, read_source
from rag.core.domain import Article, Skipped
from rag.core.settings import Settings, get_settings
from rag.models.embeddings import Embedder
from rag.store.vector_store import VectorStore, open_client


def load_items(settings: Settings, limit: int | None) -> list[Article | Skipped]:
    items: list[Article | Skipped] = []
    for name in DEFAULT_SOURCES:
        items.extend(itertools.islice(read_source(name, None, settings), limit))
    return items


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def backend_throughput(embedders: dict[str, Embedder], texts: list[str], blocks: int = 8) -> dict[str, float]:
    """Passages per second per backend, the backends taking turns block by block."""
    seconds = dict.fromkeys(embedders, 0.0)
    size = max(1, -(-len(texts) // blocks))
    for start in range(0, len(texts), size):
        for name, embedder in embedders.items():
            started = time.perf_counter()
            embedder.encode_documents(texts[start : start + size])
            seconds[name] += time.perf_counter() - started
    return {name: len(texts) / s for name, s in seconds.items()}


ENCODER_VARIANTS: dict[str, tuple[str, str]] = {
    "torch": ("torch", "float32"),
    "torch-bf16": ("torch", "bfloat16"),
    "onnx": ("onnx", "float32"),
    "onnx-int8": ("onnx-int8", "float32"),
}
"""Encoder variants the benchmarks compare: (embedding_backend, embedding_dtype). `torch` is the
float32 reference (the default before bf16 autocast), whatever this machine's `auto` picks."""


def variant_embedder(settings: Settings, name: str) -> Embedder | None:
    """A loaded embedder of one variant, or None where it falls back to torch here."""
    backend, dtype = ENCODER_VARIANTS[name]
    embedder = Embedder.from_settings(
        settings.model_copy(update={"embedding_backend": backend, "embedding_dtype": dtype})
    )
    embedder.encode_documents(["Aufwärmen"])  # load outside the timings
    return embedder if embedder.active_backend == backend else None


def backend_embedders(settings: Settings, backends: list[str]) -> dict[str, Embedder]:
    """One loaded embedder per variant that can run here (a fallback to torch is left out)."""
    found = {name: variant_embedder(settings, name) for name in backends}
    return {name: embedder for name, embedder in found.items() if embedder is not None}


def run(
    limit: int | None, blocks: int = 8, backends: tuple[str, ...] = (), backend_chunks: int = 2000
) -> dict[str, float]:
    """Pipeline and bare encoder alternate block by block, so a load change on a shared machine
    hits both sides alike instead of biasing whichever ran later."""
    base = get_settings()
    items = load_items(base, limit)
    size = -(-len(items) // blocks)
    t_first = t_bare = 0.0
    chunks = encoded = new = 0
    with tempfile.TemporaryDirectory(prefix="bench-qdrant-") as tmp:
        settings = base.model_copy(update={"qdrant_path": str(Path(tmp) / "q"), "qdrant_url": None})
        client = open_client(settings)
        indexer = make_indexer(settings, VectorStore(client, "bench"))
        indexer.embedder.encode_documents(["Aufwärmen"])  # load the model outside the timings
        for start in range(0, len(items), size):
            block = items[start : start + size]
            started = time.perf_counter()
            report = indexer.ingest(block)
            t_first += time.perf_counter() - started
            chunks, new = chunks + report.chunks, new + report.new
            texts = [c.embed_text for a in block if isinstance(a, Article) for c in indexer.chunker.chunk(a)]
            started = time.perf_counter()
            for i in range(0, len(texts), indexer.flush_chunks):
                indexer.embedder.encode_documents(texts[i : i + indexer.flush_chunks])
            t_bare += time.perf_counter() - started
            encoded += len(texts)
        peak_ingest = peak_rss_mb()
        sample = [c.embed_text for a in items if isinstance(a, Article) for c in indexer.chunker.chunk(a)]
        sample = sample[:backend_chunks]
        started = time.perf_counter()
        second = indexer.ingest(items)
        t_second = time.perf_counter() - started
        client.close()

    assert second.unchanged == new, "second ingest must find everything unchanged"
    per_backend: dict[str, float] = {}
    if len(backends) > 1:
        speeds = backend_throughput(backend_embedders(base, ["torch", *backends]), sample)
        for name, speed in speeds.items():
            per_backend[f"encoder_{name}_chunks_per_s"] = speed
            per_backend[f"encoder_{name}_vs_torch"] = speed / speeds["torch"]
    return {
        "articles": new,
        "chunks": chunks,
        "pipeline_chunks_per_s": chunks / t_first,
        "bare_encoder_chunks_per_s": encoded / t_bare,
        "pipeline_vs_encoder": (chunks / t_first) / (encoded / t_bare),
        "first_ingest_s": t_first,
        "second_ingest_s": t_second,
        "second_vs_first": t_second / t_first,
        "peak_rss_mb_during_ingest": peak_ingest,
    } | per_backend


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--limit", type=int, default=None, help="articles per default source (all by default)"
    )
    parser.add_argument("--output", type=Path, default=None, help="write the figures as JSON here")
    parser.add_argument(
        "--backends",
        default=",".join(ENCODER_VARIANTS),
        help="encoder variants whose bare throughput is compared with float32 torch's (comma-separated)",
    )
    parser.add_argument("--backend-chunks", type=int, default=2000, help="chunks for that comparison")
    args = parser.parse_args()
    backends = tuple(b for b in args.backends.split(",") if b and b != "torch")
    figures = run(args.limit, backends=backends, backend_chunks=args.backend_chunks)
    for key, value in figures.items():
        print(f"{key:28s} {value:12.3f}" if isinstance(value, float) else f"{key:28s} {value:12d}")
    verdicts = {
        "pipeline >= 85 % of bare encoder": figures["pipeline_vs_encoder"] >= 0.85,
        "second ingest < 5 % of first": figures["second_vs_first"] < 0.05,
        "peak memory < 3 GB": figures["peak_rss_mb_during_ingest"] < 3 * 1024,
    } | {
        f"encoder {name} >= 2x torch": figures[f"encoder_{name}_vs_torch"] >= 2
        for name in backends
        if f"encoder_{name}_vs_torch" in figures
    }
    for name, ok in verdicts.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(figures | {"verdicts": verdicts}, indent=2) + "\n")


if __name__ == "__main__":
    main()
