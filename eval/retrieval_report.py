"""Write a retrieval evaluation to disk: metrics.json, ranks.csv, per_question.csv, report.md, plots."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from eval.gates import PER_QUESTION, Difference, paired_difference, write_per_question
from eval.plots import latency_boxes, metric_bars, recall_curves
from eval.retrieval_eval import METRICS, ModeResult


def flat_metrics(results: Sequence[ModeResult]) -> dict[str, float]:
    """``<mode>.<metric>`` -> value, the names `--fail-under` and `--baseline` use."""
    return {f"{r.mode}.{m}": r.metrics[m] for r in results for m in METRICS}


def paired_differences(results: Sequence[ModeResult]) -> dict[str, list[Difference]]:
    """Each further mode against the first, per question, with a 95 % bootstrap interval.

    Why paired: two modes are run on the same questions, so their per-mode intervals overlap even
    where the per-question differences are one-sided; the paired interval answers "does reranking
    help" directly."""
    first = {row["qid"]: row for row in results[0].rows} if results else {}
    return {
        result.mode: [
            paired_difference(
                m, [(float(r[m]), float(first[r["qid"]][m])) for r in result.rows if r["qid"] in first]
            )
            for m in METRICS
        ]
        for result in results[1:]
    }


def _difference_lines(first: str, differences: dict[str, list[Difference]]) -> list[str]:
    if not differences:
        return []
    lines = [
        f"Paired differences against `{first}` (per question, 95 % bootstrap; * = interval without 0):",
        "",
        "| mode | " + " | ".join(f"Δ {m}" for m in METRICS) + " |",
        "|" + "---|" * (len(METRICS) + 1),
    ]
    for mode, found in differences.items():
        cells = [
            f"{d.delta:+.3f} [{d.ci95[0]:+.3f}, {d.ci95[1]:+.3f}]"
            + (" *" if d.ci95[0] > 0 or d.ci95[1] < 0 else "")
            for d in found
        ]
        lines.append(f"| {mode} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def write_retrieval_report(
    results: Sequence[ModeResult],
    output: Path,
    title: str,
    meta: dict[str, object],
    problems: Sequence[str] = (),
) -> None:
    output.mkdir(parents=True, exist_ok=True)
    differences = paired_differences(results)
    payload = {
        "meta": meta,
        "modes": {
            r.mode: {
                "metrics": r.metrics,
                "ci95": r.intervals,
                "latency_ms": r.latency_ms,
                "recall_curve": r.recall_curve,
            }
            for r in results
        },
        "flat": flat_metrics(results),
        "paired_differences": {
            mode: {d.metric: asdict(d) for d in found} for mode, found in differences.items()
        },
        "problems": list(problems),
    }
    (output / "metrics.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    with (output / "ranks.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(results[0].rows[0]))
        writer.writeheader()
        for result in results:
            writer.writerows(result.rows)
    per_question: dict[str, dict[str, float | None]] = {}
    for result in results:
        for row in result.rows:
            per_question.setdefault(row["qid"], {}).update({f"{result.mode}.{m}": row[m] for m in METRICS})
    write_per_question(output / PER_QUESTION, per_question)
    metric_bars(
        {r.mode: {m: (r.metrics[m], *r.intervals[m]) for m in METRICS} for r in results},
        METRICS,
        output / "retrieval_metrics.png",
        "score (95 % bootstrap CI)",
    )
    latencies = {r.mode: [row["latency_ms"] for row in r.rows] for r in results}
    latency_boxes(latencies, output / "retrieval_latency.png", "ms")
    recall_curves({r.mode: r.recall_curve for r in results if r.recall_curve}, output / "recall_at_k.png")
    header = "| mode | " + " | ".join(METRICS) + " | p50 ms | p95 ms |"
    lines = [f"# {title}", "", *(f"- {k}: {v}" for k, v in meta.items()), "", header]
    lines.append("|" + "---|" * (len(METRICS) + 3))
    for r in results:
        cells = [f"{r.metrics[m]:.3f} [{r.intervals[m][0]:.3f}, {r.intervals[m][1]:.3f}]" for m in METRICS]
        lines.append(
            f"| {r.mode} | "
            + " | ".join(cells)
            + f" | {r.latency_ms['p50']:.0f} | {r.latency_ms['p95']:.0f} |"
        )
    lines += [
        "",
        "Intervals: 95 % bootstrap over questions (2,000 resamples, seed 0). Latency: retrieval "
        "(and reranking) per question, measured in this run.",
        "",
        *_difference_lines(results[0].mode, differences),
        "![metrics per mode](retrieval_metrics.png)",
        "",
        "![recall at k](recall_at_k.png)",
        "",
        "![latency per mode](retrieval_latency.png)",
        "",
    ]
    if problems:
        lines += [f"## Skipped ({len(problems)})", "", *(f"- {p}" for p in problems), ""]
    (output / "report.md").write_text("\n".join(lines), encoding="utf-8")
