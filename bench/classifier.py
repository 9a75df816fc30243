"""Engagement classifier benchmark: single-headline latency and batch throughput on this CPU.

Run with `make bench` (or `python -m bench.classifier`). Targets from the classifier issue: one
headline p50 <= 30 ms, batch throughput >= 200 headlines/s, judged for the weights the predictor
serves by default (`HEISE_RAG_CLASSIFIER_DTYPE`, `auto`); float32 is measured beside it, with the
accuracy of both on the reference split's test part, so the speed-up is shown not to cost accuracy.
Real headlines are used (lengths matter: the model runs on tokens); the model is loaded and warmed
up outside the timings. Other work on the machine slows every figure: the 1-minute load is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import torch

from finetune.classifier.data import load_headlines, make_split
from rag.core.datafiles import HEADLINES_FILE
from rag.core.settings import get_settings
from rag.engagement.predictor import EngagementPredictor, inference_dtype


def measure(
    predictor: EngagementPredictor, headlines: list[str], single: int, batch: int, repeats: int
) -> dict:
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
    }


def run(single: int, batch: int, repeats: int) -> dict[str, object]:
    settings = get_settings()
    frame = load_headlines(settings.resolved_data_dir / HEADLINES_FILE)
    headlines = frame.headline.tolist()
    test = make_split(frame, "reference").test
    served = inference_dtype(settings.classifier_dtype, settings.device)
    figures: dict[str, object] = {
        "served_dtype": str(served).removeprefix("torch."),
        "cpu_threads": torch.get_num_threads(),
        "batch_size": settings.embed_batch_size,
        "batch_headlines": batch,
    }
    for dtype in dict.fromkeys([served, torch.float32]):
        predictor = EngagementPredictor.from_settings(settings)
        predictor.dtype = dtype
        found = measure(predictor, headlines, single, batch, repeats)
        predictions = predictor.predict(test.headline.tolist())
        correct = sum(
            int((p.label == "good") == bool(y)) for p, y in zip(predictions, test.label, strict=True)
        )
        found["reference_test_accuracy"] = correct / len(test)
        found["load_average_1min"] = os.getloadavg()[0]
        figures[str(dtype).removeprefix("torch.")] = found
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--single", type=int, default=200, help="headlines timed one by one")
    parser.add_argument("--batch", type=int, default=1024, help="headlines per throughput run")
    parser.add_argument("--repeats", type=int, default=3, help="throughput runs (median reported)")
    parser.add_argument("--output", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args()
    figures = run(args.single, args.batch, args.repeats)
    print(json.dumps(figures, indent=2))
    served: dict = figures[str(figures["served_dtype"])]  # type: ignore[assignment]
    verdicts = {
        "single headline p50 <= 30 ms": served["single_p50_ms"] <= 30,
        "batch throughput >= 200 headlines/s": served["batch_headlines_per_s"] >= 200,
    }
    for name, ok in verdicts.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name} ({figures['served_dtype']})")
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(figures | {"verdicts": verdicts}, indent=2) + "\n")


if __name__ == "__main__":
    main()
