"""Evaluation report folders on disk, found and read for the evaluation page.

Why discovery instead of fixed paths: `heise-rag eval retrieval|answers --output DIR` writes wherever
it is told (a folder with report.md, metrics.json and plots), the classifier report lives in
`reports/classifier/`, and a fresh checkout has none of the run reports. The page lists what exists
under the report roots, newest first per kind, and says so when nothing does.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd

Kind = Literal["retrieval", "answers", "classifier", "other"]
KIND_TITLES: dict[Kind, str] = {
    "retrieval": "Retrieval",
    "answers": "Antworten",
    "classifier": "Schlagzeilen-Klassifikator",
    "other": "Weitere Berichte",
}
REPORT_FILES = ("metrics.json", "report.md", "README.md")


@dataclass(frozen=True)
class Report:
    """One report folder: its kind, when it was written, its metrics, text and plots."""

    folder: Path
    kind: Kind
    written: datetime
    metrics: Any = None
    markdown: str = ""
    plots: tuple[Path, ...] = field(default_factory=tuple)


def _is_answer_metrics(metrics: Any) -> bool:
    """`heise-rag eval answers` writes ``{"metrics": {name: {"mean", "ci95", "n"}}, "latency_s": ...}``."""
    inner = metrics.get("metrics") if isinstance(metrics, dict) else None
    return isinstance(inner, dict) and all(isinstance(v, dict) and "mean" in v for v in inner.values())


def _kind(folder: Path, metrics: Any) -> Kind:
    if isinstance(metrics, dict) and "modes" in metrics:
        return "retrieval"
    if isinstance(metrics, list) and metrics and isinstance(metrics[0], dict) and "split" in metrics[0]:
        return "classifier"
    if _is_answer_metrics(metrics) or "answer" in folder.name.lower():
        return "answers"
    return "other"


def read_report(folder: Path) -> Report | None:
    """The report in ``folder``, or None when it holds no report file (or unreadable metrics)."""
    files = [folder / name for name in REPORT_FILES if (folder / name).is_file()]
    if not files:
        return None
    metrics = None
    if (folder / "metrics.json").is_file():
        try:
            metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            metrics = None
    text = next(
        (f.read_text(encoding="utf-8", errors="replace") for f in files if f.suffix == ".md"),
        "",
    )
    written = datetime.fromtimestamp(max(f.stat().st_mtime for f in files))
    return Report(folder, _kind(folder, metrics), written, metrics, text, tuple(sorted(folder.glob("*.png"))))


def find_reports(roots: Iterable[Path]) -> list[Report]:
    """Every report folder under ``roots`` (any depth), newest first."""
    folders: set[Path] = set()
    for root in roots:
        if root.is_dir():
            folders.update(p.parent for name in REPORT_FILES for p in root.rglob(name))
    reports = [r for r in (read_report(f) for f in sorted(folders)) if r is not None]
    return sorted(reports, key=lambda r: r.written, reverse=True)


def latest_by_kind(reports: Sequence[Report]) -> dict[Kind, list[Report]]:
    """Reports grouped by kind in the order of KIND_TITLES, each group newest first."""
    grouped: dict[Kind, list[Report]] = {}
    for kind in KIND_TITLES:
        found = [r for r in reports if r.kind == kind]
        if found:
            grouped[kind] = sorted(found, key=lambda r: r.written, reverse=True)
    return grouped


def retrieval_table(metrics: dict[str, Any]) -> pd.DataFrame:
    """One row per retrieval mode: each metric, and latency percentiles in ms."""
    rows = []
    for mode, result in metrics["modes"].items():
        row: dict[str, Any] = {"Modus": mode}
        row |= {name: round(float(v), 3) for name, v in result.get("metrics", {}).items()}
        row |= {f"Latenz {p} (ms)": round(float(v)) for p, v in result.get("latency_ms", {}).items()}
        rows.append(row)
    return pd.DataFrame(rows)


def classifier_table(metrics: list[dict[str, Any]]) -> pd.DataFrame:
    columns = {
        "split": "Aufteilung",
        "model": "Modell",
        "accuracy": "Genauigkeit",
        "macro_f1": "Makro-F1",
        "roc_auc": "ROC-AUC",
        "ece": "ECE",
        "ece_calibrated": "ECE kalibriert",
        "temperature": "Temperatur",
        "detail": "Details",
    }
    table = pd.DataFrame(metrics)[[c for c in columns if c in metrics[0]]].rename(columns=columns)
    return table.round(3)


def answers_table(metrics: dict[str, Any]) -> pd.DataFrame:
    """One row per answer metric: mean, 95 % interval and the number of questions it covers."""
    rows = []
    for name, value in metrics["metrics"].items():
        low, high = value.get("ci95") or (None, None)
        rows.append(
            {
                "Kennzahl": name,
                "Mittelwert": None if value["mean"] is None else round(float(value["mean"]), 3),
                "95-%-Intervall": "—" if low is None else f"[{low:.3f}, {high:.3f}]",
                "n": value.get("n"),
            }
        )
    return pd.DataFrame(rows)


def _flatten(value: Any, prefix: str = "") -> Iterable[tuple[str, str]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _flatten(inner, f"{prefix}{key}.")
    else:
        text = json.dumps(value, ensure_ascii=False) if isinstance(value, list) else str(value)
        yield prefix.rstrip("."), text


def flat_table(metrics: Any) -> pd.DataFrame:
    """Any other metrics.json as rows of (Kennzahl, Wert): nested keys joined with dots."""
    if isinstance(metrics, dict):
        pairs = list(_flatten(metrics))
        return pd.DataFrame({"Kennzahl": [k for k, _ in pairs], "Wert": [v for _, v in pairs]})
    return pd.DataFrame(metrics).astype(str)


def answer_examples(report: Report, limit: int = 500) -> pd.DataFrame | None:
    """Question, answer and error per question from an answer report's answers.jsonl, if any."""
    path = report.folder / "answers.jsonl"
    if report.kind != "answers" or not path.is_file():
        return None
    rows = []
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if len(rows) == limit:
                break
            try:
                item = json.loads(line)
            except ValueError:
                continue
            rows.append(
                {
                    "Frage": item.get("question"),
                    "Antwort": item.get("answer"),
                    "Fehler": item.get("error"),
                    "Sekunden": item.get("seconds"),
                }
            )
    return pd.DataFrame(rows) if rows else None


def metrics_table(report: Report) -> pd.DataFrame | None:
    if report.metrics is None:
        return None
    if report.kind == "retrieval":
        return retrieval_table(report.metrics)
    if report.kind == "classifier":
        return classifier_table(report.metrics)
    if report.kind == "answers" and _is_answer_metrics(report.metrics):
        return answers_table(report.metrics)
    return flat_table(report.metrics)
