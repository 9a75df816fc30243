"""Plots of the classifier report: training curves, confusion matrices, reliability diagrams.

Why ``Figure`` and not pyplot: the report is written by the CLI and by CI, never shown on a screen;
a bare Figure needs no GUI backend and keeps no global state between plots.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from eval.classifier_metrics import reliability_bins, sigmoid


def plot_training_curve(history: Sequence[Mapping[str, float]], path: Path, title: str) -> None:
    """Loss (train, dev) and accuracy (train, dev) per epoch, side by side; one line per run of a
    soup (the records' ``member``)."""
    runs = sorted({int(r["member"]) for r in history})
    fig = Figure(figsize=(9, 3.5))
    loss_ax, acc_ax = fig.subplots(1, 2)
    for run in runs:
        records = [r for r in history if int(r["member"]) == run]
        epochs = [int(r["epoch"]) for r in records]
        suffix = f", run {run + 1}" if len(runs) > 1 else ""
        for ax, metric in ((loss_ax, "loss"), (acc_ax, "accuracy")):
            for part, style in (("train", "o-"), ("dev", "s--")):
                values = [r[f"{part}_{metric}"] for r in records]
                ax.plot(epochs, values, style, label=f"{part}{suffix}")
    epochs = sorted({int(r["epoch"]) for r in history})
    loss_ax.set(title="loss", xlabel="epoch", xticks=epochs)
    acc_ax.set(title="accuracy", xlabel="epoch", xticks=epochs)
    loss_ax.legend(fontsize="small")
    acc_ax.legend(fontsize="small")
    fig.suptitle(title)
    fig.tight_layout()
    _save(fig, path)


def plot_confusions(matrices: Mapping[str, Sequence[Sequence[int]]], path: Path, title: str) -> None:
    """One confusion matrix per model (rows: true bad/good, columns: predicted bad/good)."""
    fig = Figure(figsize=(3.2 * len(matrices), 3.4))
    axes = fig.subplots(1, len(matrices), squeeze=False)
    for ax, (name, matrix) in zip(axes[0], matrices.items(), strict=True):
        values = np.asarray(matrix)
        ax.imshow(values, cmap="Blues")
        for (i, j), v in np.ndenumerate(values):
            color = "white" if v > values.max() / 2 else "black"
            ax.text(j, i, str(v), ha="center", va="center", color=color)
        ax.set(title=name, xticks=[0, 1], yticks=[0, 1], xlabel="predicted", ylabel="true")
        ax.set_xticklabels(["bad", "good"])
        ax.set_yticklabels(["bad", "good"])
    fig.suptitle(title)
    fig.tight_layout()
    _save(fig, path)


def plot_reliability(
    labels: np.ndarray, curves: Mapping[str, tuple[np.ndarray, float]], path: Path, title: str
) -> None:
    """Accuracy against confidence per bin for each model's (log-odds, temperature), raw and scaled."""
    fig = Figure(figsize=(5, 5))
    ax = fig.subplots()
    ax.plot([0.5, 1.0], [0.5, 1.0], linestyle="--", color="grey", label="perfect")
    for name, (odds, temperature) in curves.items():
        raw = ax.plot(*reliability_bins(labels, sigmoid(odds))[:2], linestyle=":", marker=".")[0]
        confidence, accuracy, _ = reliability_bins(labels, sigmoid(odds / temperature))
        ax.plot(
            confidence, accuracy, marker="o", color=raw.get_color(), label=f"{name} (T={temperature:.2f})"
        )
    ax.set(xlabel="confidence", ylabel="accuracy", xlim=(0.5, 1.0), ylim=(0.3, 1.0), title=title)
    ax.legend(fontsize=7, title="dotted: raw, solid: calibrated", title_fontsize=7)
    fig.tight_layout()
    _save(fig, path)


def _save(fig: Figure, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
