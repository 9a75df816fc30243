"""Engagement classifier benchmark: single-headline latency and batch throughput on this CPU.

Run with `make bench` (or `python -m bench.classifier`). Targets from the classifier issue: one
headline p50 <= 30 ms, batch throughput >= 200 headlines/s. Real headlines from the data file are
used (lengths matter: the model runs on tokens); the model is loaded and warmed up outside the timings.
Absolute times on a shared machine are noisy: the figures are medians of repeated runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import torch

from finetune.headline_data import HEADLINES_FILE, load_headlines
from rag.engagement import EngagementPredictor
from rag.settings import get_settings


def run(single: int, batch: int, repeats: int) -> dict[str, float]:
    settings = get_settings()
    headlines = load_headlines(settings.resolved_data_dir / HEADLINES_FILE).headline.tolist()
    predictor = EngagementPredictor.from_settings(settings)
    predictor.predict(headlines[:64])  # load and warm up

    latencies = []
    for text in headlines[:single]:
        started = time.perf_counter()
        predictor.predict([text])
        latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()

    rates = []
    for r in range(repeats):
        texts = headlines[r * batch : (r + 1) * batch]
        started = time.perf_counter()
        predictor.predict(texts)
        rates.append(len(texts) / (time.perf_counter() - started))
    return {
        "single_p50_ms": statistics.median(latencies),
        "single_p95_ms": latencies[int(0.95 * (len(latencies) - 1))],
        "batch_headlines_per_s": statistics.median(rates),
        "batch_size": float(predictor.batch_size),
        "batch_headlines": float(batch),
        "load_average_1min": os.getloadavg()[0],  # other work on the machine slows every figure
        "cpu_threads": float(torch.get_num_threads()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--single", type=int, default=200, help="headlines timed one by one")
    parser.add_argument("--batch", type=int, default=1024, help="headlines per throughput run")
    parser.add_argument("--repeats", type=int, default=3, help="throughput runs (median reported)")
    parser.add_argument("--output", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args()
    figures = run(args.single, args.batch, args.repeats)
    for key, value in figures.items():
        print(f"{key:24s} {value:10.1f}")
    verdicts = {
        "single headline p50 <= 30 ms": figures["single_p50_ms"] <= 30,
        "batch throughput >= 200 headlines/s": figures["batch_headlines_per_s"] >= 200,
    }
    for name, ok in verdicts.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(figures | {"verdicts": verdicts}, indent=2) + "\n")


if __name__ == "__main__":
    main()
