"""Write a retrieval evaluation to disk: metrics.json, ranks.csv, report.md and a bar plot."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure

from eval.retrieval_eval import METRICS, ModeResult


def _plot(results: Sequence[ModeResult], path: Path) -> None:
    fig = Figure(figsize=(9, 4.5))
    ax = fig.subplots()
    width = 0.8 / len(results)
    for i, result in enumerate(results):
        xs = [m + i * width for m in range(len(METRICS))]
        values = [result.metrics[m] for m in METRICS]
        errors = [
            [v - result.intervals[m][0] for m, v in zip(METRICS, values, strict=True)],
            [result.intervals[m][1] - v for m, v in zip(METRICS, values, strict=True)],
        ]
        ax.bar(xs, values, width, yerr=errors, capsize=3, label=result.mode)
    ax.set_xticks([m + 0.4 - width / 2 for m in range(len(METRICS))], METRICS)
    ax.set_ylim(0, 1)
    ax.set_ylabel("score (95 % bootstrap CI)")
    ax.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def write_retrieval_report(
    results: Sequence[ModeResult], output: Path, title: str, meta: dict[str, object]
) -> None:
    output.mkdir(parents=True, exist_ok=True)
    payload = {
        "meta": meta,
        "modes": {
            r.mode: {"metrics": r.metrics, "ci95": r.intervals, "latency_ms": r.latency_ms} for r in results
        },
    }
    (output / "metrics.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    with (output / "ranks.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(results[0].rows[0]))
        writer.writeheader()
        for result in results:
            writer.writerows(result.rows)
    _plot(results, output / "retrieval_metrics.png")
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
    lines += ["", "![metrics per mode](retrieval_metrics.png)", ""]
    (output / "report.md").write_text("\n".join(lines), encoding="utf-8")
