"""Plots shared by the evaluation reports: metric bars with intervals, latency distributions.

Why matplotlib's object API (Figure, not pyplot): reports are written from CLI runs, tests and the
app's process alike, and pyplot's global state and GUI backends have no place in any of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib.figure import Figure

Interval = tuple[float, float, float]
"""(value, CI low, CI high)."""


def metric_bars(
    groups: Mapping[str, Mapping[str, Interval]], metrics: Sequence[str], path: Path, ylabel: str
) -> None:
    """One bar group per metric, one bar per group (mode, model), 95 % intervals as error bars."""
    fig = Figure(figsize=(max(6, 1.5 * len(metrics) + 3), 4.5))
    ax = fig.subplots()
    width = 0.8 / max(len(groups), 1)
    for i, (label, values) in enumerate(groups.items()):
        shown = [m for m in metrics if m in values]
        xs = [metrics.index(m) + i * width for m in shown]
        mids = [values[m][0] for m in shown]
        errors = [[values[m][0] - values[m][1] for m in shown], [values[m][2] - values[m][0] for m in shown]]
        ax.bar(xs, mids, width, yerr=errors, capsize=3, label=label)
    ax.set_xticks([m + 0.4 - width / 2 for m in range(len(metrics))], metrics, rotation=20, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel(ylabel)
    ax.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def latency_boxes(series: Mapping[str, Sequence[float]], path: Path, unit: str) -> None:
    """Distribution of latencies per label as box plots (whiskers at 5/95 %)."""
    labels = [label for label, values in series.items() if values]
    fig = Figure(figsize=(max(5, 1.6 * len(labels) + 2), 4))
    ax = fig.subplots()
    ax.boxplot([list(series[label]) for label in labels], whis=(5, 95), showfliers=False)
    ax.set_xticks(range(1, len(labels) + 1), labels)
    ax.set_ylabel(unit)
    ax.set_title("latency (box: p25-p75, whiskers: p5-p95)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def recall_curves(curves: Mapping[str, Sequence[float]], path: Path) -> None:
    """Mean recall@k over k = 1..K, one line per mode."""
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    for label, curve in curves.items():
        ax.plot(range(1, len(curve) + 1), curve, marker="o", label=label)
    ax.set_xlabel("k")
    ax.set_ylabel("recall@k")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
