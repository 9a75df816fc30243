"""Encoder variants side by side: torch float32 vs torch with bf16 autocast vs ONNX (float32) vs ONNX
int8 on this CPU.

Run with `python -m bench.encoder [--passages 2000] [--output FILE]`. For each backend, on the same
real chunks of the default corpus and the same batch size: documents encoded per second (blocks
alternate between backends, so a load change on a shared machine hits all alike), the p50/p95 of
one query (the dev questions, query threads as configured), and agreement with torch: the cosine
of each passage vector to torch's and the overlap of each question's top 10 among the passages.
Retrieval quality on the dev sets is measured with `heise-rag eval retrieval` on an index built
with each backend (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from bench.ingest import ENCODER_VARIANTS, backend_throughput, load_items, variant_embedder
from ingest.service import make_indexer
from rag.core.domain import Article
from rag.core.settings import Settings, get_settings
from rag.models.embeddings import Embedder
from rag.store.vector_store import VectorStore, open_client


def chunk_texts(settings: Settings, passages: int) -> list[str]:
    """The first ``passages`` chunks of the default sources, as ingest embeds them."""
    client = open_client(settings.model_copy(update={"qdrant_path": ":memory:", "qdrant_url": None}))
    indexer = make_indexer(settings, VectorStore(client, "bench"))
    per_source = max(1, passages // 2)
    texts = [
        c.embed_text
        for a in load_items(settings, per_source)
        if isinstance(a, Article)
        for c in indexer.chunker.chunk(a)
    ]
    client.close()
    return texts[:passages]


def questions(settings: Settings, limit: int = 200) -> list[str]:
    data = settings.resolved_data_dir
    found = [
        json.loads(line)["question"]
        for line in (data / "heise-qa" / "heise_qa_dev.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    squad = json.loads((data / "xquad-de" / "xquad.de.dev.json").read_text(encoding="utf-8"))
    found += [qa["question"] for article in squad["data"] for p in article["paragraphs"] for qa in p["qas"]]
    return found[:limit]


def embedders_for(settings: Settings, backends: list[str]) -> dict[str, Embedder]:
    """The loaded embedders of the variants that run here; one that falls back to torch is left
    out with a message (its ONNX copy is built by `models provision --encoder-onnx`)."""
    found = {}
    for name in backends:
        embedder = variant_embedder(settings, name)
        if embedder is None:
            print(f"{name}: not available here (falls back to torch), left out")
            continue
        embedder.encode_query("Aufwärmen?")
        found[name] = embedder
    return found


def run(passages: int, backends: list[str]) -> dict[str, object]:
    settings = get_settings()
    texts = chunk_texts(settings, passages)
    asked = questions(settings)
    embedders = embedders_for(settings, backends)
    speed = backend_throughput(embedders, texts)
    vectors = {name: e.encode_documents(texts) for name, e in embedders.items()}
    figures: dict[str, object] = {"passages": len(texts), "questions": len(asked)}
    figures["batch_size"] = settings.embed_batch_size
    reference = vectors["torch"]
    ref_queries = np.stack([embedders["torch"].encode_query(q) for q in asked])
    ref_top = np.argsort(-(ref_queries @ reference.T), axis=1)[:, :10]
    for name, embedder in embedders.items():
        latencies = []
        for question in asked:
            started = time.perf_counter()
            embedder._encode_query(question)  # uncached: the encoder's own latency
            latencies.append((time.perf_counter() - started) * 1000)
        queries = np.stack([embedder.encode_query(q) for q in asked])
        top = np.argsort(-(queries @ vectors[name].T), axis=1)[:, :10]
        cosine = (vectors[name] * reference).sum(1)
        figures[name] = {
            "passages_per_s": speed[name],
            "vs_torch": speed[name] / speed["torch"],
            "query_p50_ms": statistics.median(latencies),
            "query_p95_ms": float(np.percentile(latencies, 95)),
            "cosine_to_torch_min": float(cosine.min()),
            "cosine_to_torch_mean": float(cosine.mean()),
            "query_cosine_to_torch_min": float((queries * ref_queries).sum(1).min()),
            "top10_overlap_with_torch": float(
                np.mean([len(set(a) & set(b)) / 10 for a, b in zip(top, ref_top, strict=True)])
            ),
        }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--passages", type=int, default=2000)
    parser.add_argument("--backends", default=",".join(ENCODER_VARIANTS), help="comma-separated; torch first")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    backends = ["torch", *(b for b in args.backends.split(",") if b and b != "torch")]
    figures = run(args.passages, backends)
    print(f"{figures['passages']} passages, batch {figures['batch_size']}, {figures['questions']} questions")
    for name in backends:
        row = figures.get(name)
        if row is None:
            continue
        assert isinstance(row, dict)
        print(
            f"{name:11s} {row['passages_per_s']:7.1f} passages/s  x{row['vs_torch']:.2f}  "
            f"query p50 {row['query_p50_ms']:6.1f} ms  cos min {row['cosine_to_torch_min']:.4f} "
            f"mean {row['cosine_to_torch_mean']:.5f}  top-10 overlap {row['top10_overlap_with_torch']:.3f}"
        )
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
