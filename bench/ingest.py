"""Ingest benchmark: pipeline vs bare encoder throughput, peak memory, unchanged re-ingest.

Run with `make bench` (or `python -m bench.ingest [--limit N]`). Targets from the ingest issue:
pipeline throughput >= 85 % of the bare encoder on the same chunks, peak memory < 3 GB while
ingesting all default data, and a second unchanged ingest < 5 % of the first. Absolute times on a
shared machine are noise; the ratios are measured in one process, one after the other.
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
from rag.store.vector_store import VectorStore, open_client


def load_items(settings: Settings, limit: int | None) -> list[Article | Skipped]:
    items: list[Article | Skipped] = []
    for name in DEFAULT_SOURCES:
        items.extend(itertools.islice(read_source(name, None, settings), limit))
    return items


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(limit: int | None, blocks: int = 8) -> dict[str, float]:
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
        started = time.perf_counter()
        second = indexer.ingest(items)
        t_second = time.perf_counter() - started
        client.close()

    assert second.unchanged == new, "second ingest must find everything unchanged"
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
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--limit", type=int, default=None, help="articles per default source (all by default)"
    )
    parser.add_argument("--output", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args()
    figures = run(args.limit)
    for key, value in figures.items():
        print(f"{key:28s} {value:12.3f}" if isinstance(value, float) else f"{key:28s} {value:12d}")
    verdicts = {
        "pipeline >= 85 % of bare encoder": figures["pipeline_vs_encoder"] >= 0.85,
        "second ingest < 5 % of first": figures["second_vs_first"] < 0.05,
        "peak memory < 3 GB": figures["peak_rss_mb_during_ingest"] < 3 * 1024,
    }
    for name, ok in verdicts.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(figures | {"verdicts": verdicts}, indent=2) + "\n")


if __name__ == "__main__":
    main()
