"""Rerank latency: 30 hybrid candidates per XQuAD dev question scored by the cross-encoder.

Run with `make bench` (or `python -m bench.reranker [--model NAME] [--questions N]`). Target from
the reranker issue on this 2-core machine: rerank of 30 candidates p50 <= 300 ms. The candidates
are what the ask path hands the reranker (the default index's hybrid top 30 articles, best chunk
each); weights in bfloat16 where the CPU has native bf16 (`auto`) and in float32 are timed in the
same run, so their ratio is measured, not assumed.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from bench.ask import p
from eval.questions import load_squad_questions
from rag.core.datafiles import XQUAD_FILE
from rag.core.settings import get_settings
from rag.pipelines.components import open_pipeline
from rag.retrieval.rerank import CrossEncoderReranker

DEFAULT_MODEL = "heise-reranker-de"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--model", default=None, help=f"reranker (default: the setting, else {DEFAULT_MODEL})"
    )
    parser.add_argument("--questions", type=int, default=60, help="XQuAD questions to rerank for")
    parser.add_argument("--candidates", type=int, default=30)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    settings = get_settings()
    model = args.model or settings.reranker_model or DEFAULT_MODEL
    questions = load_squad_questions(settings.resolved_data_dir / XQUAD_FILE).questions
    with open_pipeline(settings) as pipeline:
        candidates = [
            (q.question, pipeline.retriever.search(q.question).documents[: args.candidates])
            for q in questions[: args.questions]
        ]
    figures: dict[str, object] = {"model": model, "questions": len(candidates), "candidates": args.candidates}
    p50: dict[str, float] = {}
    for dtype in ("auto", "float32"):
        reranker = CrossEncoderReranker(
            model_name=model, cache_dir=settings.model_cache_dir, device=settings.device, dtype=dtype
        )
        reranker.compress_documents(*reversed(candidates[0]))  # load and warm up
        timings = []
        for question, docs in candidates:
            started = time.perf_counter()
            reranker.compress_documents(docs, question)
            timings.append(time.perf_counter() - started)
        p50[dtype] = p(timings, 50)
        figures |= {
            f"{dtype}_dtype": str(reranker.model.model.dtype),
            f"{dtype}_max_length": reranker.model.max_seq_length,
            f"{dtype}_rerank_ms_p50": p50[dtype],
            f"{dtype}_rerank_ms_p95": p(timings, 95),
        }
    figures["float32_over_auto_p50"] = p50["float32"] / p50["auto"]
    for key, value in figures.items():
        print(f"{key:26s} {value:.1f}" if isinstance(value, float) else f"{key:26s} {value}")
    ok = p50["auto"] <= 300
    print(f"{'PASS' if ok else 'FAIL'}  rerank 30 p50 <= 300 ms")
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(
            json.dumps(figures | {"checks": {"rerank 30 p50 <= 300 ms": ok}}, indent=2) + "\n"
        )


if __name__ == "__main__":
    main()
