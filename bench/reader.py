"""Reader latency and the whole extractive answer, on the heise dev questions over the default index.

Run with `make bench` (or `python -m bench.reader [--questions N]`). Targets from the answers
issue on this 2-core machine: the reader on 3 sources p50 <= 150 ms and the whole answer p50 <= 2 s.
The sources are what the ask path hands the reader (the default retrieval's top 3 articles, whole
chunks); the reader in bfloat16 where the CPU has native bf16 (`auto`) and in float32 is timed in
the same run, and, with a passage reader configured, the reader alone (what the second costs, in
time and in resident memory: each loaded in a fresh process that reads three questions).
The whole answer is `RagPipeline.ask` in the extractive mode (search, read, write).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

from bench.ask import p
from eval.questions import EvalQuestion, load_questions
from rag.core.datafiles import HEISE_QA_FILE
from rag.core.settings import Settings, get_settings
from rag.models.dtypes import inference_dtype
from rag.pipelines.ask import AskOptions
from rag.pipelines.components import open_pipeline
from rag.reader.reader import SpanReader


def resident_mb(settings: Settings, questions: list[EvalQuestion], *, with_passage_reader: bool) -> float:
    """Resident memory (MB) of this process after loading the reader(s) and reading ``questions``."""
    reader = SpanReader.from_settings(
        settings if with_passage_reader else settings.model_copy(update={"reader_passage_model": None})
    )
    headline = "Lockheed Martin: KI fliegt experimentellen Kampfjet mehr als 17 Stunden lang"
    passage = "Der Regenwald umfasst sieben Millionen Quadratkilometer, davon 5,5 Millionen als Urwald. " * 4
    for q in questions:
        reader.read(q.question, [headline, passage])  # one for each reader
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]


def resident_in_fresh_process(*, with_passage_reader: bool) -> float:
    flag = "--resident-both" if with_passage_reader else "--resident-alone"
    command = [sys.executable, "-m", "bench.reader", flag]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=int, default=26, help="heise dev questions to answer")
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--resident-both", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--resident-alone", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    settings = get_settings().model_copy(update={"answer_mode": "extractive"})
    questions = load_questions(settings.resolved_data_dir / HEISE_QA_FILE).questions[: args.questions]
    if args.resident_both or args.resident_alone:  # the child of resident_in_fresh_process
        print(resident_mb(settings, questions[:3], with_passage_reader=args.resident_both))
        return
    options = AskOptions(k=settings.answer_sources, mode=settings.retrieval_mode, rerank=False)
    figures: dict[str, object] = {"questions": len(questions), "sources": settings.answer_sources}
    with open_pipeline(settings) as pipeline:
        assert pipeline.reader is not None, "the extractive mode loads the configured reader"
        passages = [
            [d.page_content for d in pipeline.retriever.search(q.question).documents[: options.k]]
            for q in questions
        ]
        pipeline.ask(questions[0].question, options)  # load and warm up every model
        totals = []
        for q in questions:
            started = time.perf_counter()
            pipeline.ask(q.question, options)
            totals.append(time.perf_counter() - started)
    # p() reports milliseconds
    figures |= {"answer_s_p50": p(totals, 50) / 1000, "answer_s_p95": p(totals, 95) / 1000}
    p50: dict[str, float] = {}
    variants = [("auto", settings.reader_passage_model), ("float32", settings.reader_passage_model)]
    if settings.reader_passage_model is not None:
        variants.append(("auto_reader_alone", None))  # the price of the passage reader, same run
    for name, passage_folder in variants:
        assert settings.reader_model is not None
        reader = SpanReader(
            folder=settings.reader_model,
            passage_folder=passage_folder,
            model_cache_dir=settings.model_cache_dir,
            device=settings.device,
            dtype=inference_dtype(name.split("_")[0], settings.device),  # type: ignore[arg-type]
        )
        reader.read(questions[0].question, passages[0])
        timings = []
        for q, texts in zip(questions, passages, strict=True):
            started = time.perf_counter()
            reader.read(q.question, texts)
            timings.append(time.perf_counter() - started)
        p50[name] = p(timings, 50)
        figures |= {f"{name}_read_ms_p50": p50[name], f"{name}_read_ms_p95": p(timings, 95)}
    figures["float32_over_auto_p50"] = p50["float32"] / p50["auto"]
    if "auto_reader_alone" in p50:
        figures["with_passage_reader_over_alone_p50"] = p50["auto"] / p50["auto_reader_alone"]
        figures["resident_mb_with_passage_reader"] = resident_in_fresh_process(with_passage_reader=True)
        figures["resident_mb_reader_alone"] = resident_in_fresh_process(with_passage_reader=False)
    for key, value in figures.items():
        print(f"{key:36s} {value:.3f}" if isinstance(value, float) else f"{key:36s} {value}")
    checks = {
        "reader 3 sources p50 <= 150 ms": p50["auto"] <= 150,
        "whole answer p50 <= 2 s": float(figures["answer_s_p50"]) <= 2.0,  # type: ignore[arg-type]
    }
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(figures | {"checks": checks}, indent=2) + "\n")


if __name__ == "__main__":
    main()
