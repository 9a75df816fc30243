"""Quality gates for scheduled runs: metric floors and the comparison with an earlier report.

Every report folder holds ``metrics.json`` with a flat ``{"metric name": value}`` map under
``"flat"`` and ``per_question.csv`` (one row per question id, one column per flat metric). Why per
question: a difference between two runs gets its confidence interval from a paired bootstrap over
the questions both runs share, which is far tighter, and more honest, than comparing two
independent intervals.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eval.retrieval_metrics import bootstrap_ci

PER_QUESTION = "per_question.csv"


class GateError(ValueError):
    """A floor or baseline that cannot be applied (unknown metric, missing report)."""


def parse_floor(text: str) -> tuple[str, float]:
    """``METRIC=VALUE`` -> (metric, value)."""
    name, sep, value = text.partition("=")
    try:
        if not sep or not name.strip():
            raise ValueError
        return name.strip(), float(value)
    except ValueError:
        raise GateError(f"--fail-under braucht METRIK=WERT, nicht {text!r}") from None


def failed_floors(flat: Mapping[str, float], floors: Sequence[tuple[str, float]]) -> list[str]:
    """One line per metric below its floor; an unknown metric name is an error, not a pass."""
    unknown = [name for name, _ in floors if name not in flat]
    if unknown:
        raise GateError(f"unbekannte Metrik(en) {', '.join(unknown)}; bekannt: {', '.join(sorted(flat))}")
    return [
        f"{name} = {flat[name]:.4f} < {floor}"
        for name, floor in floors
        if math.isnan(flat[name]) or flat[name] < floor
    ]


def write_per_question(path: Path, rows: Mapping[str, Mapping[str, float | None]]) -> None:
    """Wide CSV: ``qid`` then every metric; an undefined value is an empty cell."""
    columns = sorted({name for row in rows.values() for name in row})
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["qid", *columns])
        for qid, row in rows.items():
            writer.writerow([qid, *("" if row.get(c) is None else row[c] for c in columns)])


def read_per_question(path: Path) -> dict[str, dict[str, float]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return {
            row.pop("qid"): {k: float(v) for k, v in row.items() if v not in ("", None)}
            for row in csv.DictReader(handle)
        }


@dataclass(frozen=True)
class Difference:
    metric: str
    current: float
    baseline: float
    delta: float
    ci95: tuple[float, float]
    n_paired: int


def paired_difference_ci(current: Sequence[float], baseline: Sequence[float]) -> tuple[float, float]:
    """95 % bootstrap interval of the mean per-question difference (questions resampled)."""
    return bootstrap_ci([c - b for c, b in zip(current, baseline, strict=True)])


def paired_difference(metric: str, pairs: Sequence[tuple[float, float]]) -> Difference:
    """Means, mean difference and its interval of (current, baseline) values of one metric."""
    cur, base = zip(*pairs, strict=True)
    return Difference(
        metric=metric,
        current=float(np.mean(cur)),
        baseline=float(np.mean(base)),
        delta=float(np.mean(cur) - np.mean(base)),
        ci95=paired_difference_ci(cur, base),
        n_paired=len(pairs),
    )


def compare_with_baseline(current_dir: Path, baseline_dir: Path) -> list[Difference]:
    """Differences of every metric both reports have, on the questions both answered."""
    missing = [d / PER_QUESTION for d in (current_dir, baseline_dir) if not (d / PER_QUESTION).exists()]
    if missing:
        raise GateError(f"keine Ergebnisse je Frage in {', '.join(map(str, missing))}")
    now = read_per_question(current_dir / PER_QUESTION)
    before = read_per_question(baseline_dir / PER_QUESTION)
    shared = sorted(now.keys() & before.keys())
    metrics = sorted({m for q in shared for m in now[q]} & {m for q in shared for m in before[q]})
    differences = []
    for metric in metrics:
        pairs = [
            (now[q][metric], before[q][metric]) for q in shared if metric in now[q] and metric in before[q]
        ]
        if pairs:
            differences.append(paired_difference(metric, pairs))
    return differences


def format_differences(differences: Sequence[Difference]) -> list[str]:
    """Human-readable lines; a change whose interval excludes zero is marked."""
    lines = []
    for d in differences:
        low, high = d.ci95
        marker = " *" if low > 0 or high < 0 else ""
        lines.append(
            f"{d.metric:40s} {d.baseline:.4f} -> {d.current:.4f}  Δ {d.delta:+.4f} "
            f"[{low:+.4f}, {high:+.4f}] n={d.n_paired}{marker}"
        )
    return lines
