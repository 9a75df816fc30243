"""Metrics of a binary headline classifier, and temperature scaling.

Why logits everywhere: every model in the report (logistic regressions and the fine-tuned encoder)
yields a log-odds score for "good"; calibration by temperature divides that score by one scalar fitted
on development data, which changes probabilities but never the ranking or the predicted labels.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, roc_auc_score

ECE_BINS = 15


def sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64)))


def log_loss(labels: np.ndarray, logits: np.ndarray) -> float:
    """Mean binary cross-entropy, computed stably from log-odds."""
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


def fit_temperature(labels: np.ndarray, logits: np.ndarray) -> float:
    """The temperature T > 0 that minimizes the log loss of ``logits / T`` (Guo et al., 2017)."""
    if len(np.unique(labels)) < 2:
        raise ValueError("temperature scaling needs both classes in the calibration data")
    result = minimize_scalar(
        lambda log_t: log_loss(labels, logits / np.exp(log_t)), bounds=(-4.0, 4.0), method="bounded"
    )
    return float(np.exp(result.x))


def expected_calibration_error(labels: np.ndarray, p_good: np.ndarray, bins: int = ECE_BINS) -> float:
    """Top-label ECE: the weighted gap between confidence and accuracy over equal-width bins."""
    labels = np.asarray(labels)
    p_good = np.asarray(p_good, dtype=np.float64)
    predicted = (p_good >= 0.5).astype(int)
    confidence = np.where(predicted == 1, p_good, 1.0 - p_good)
    correct = (predicted == labels).astype(float)
    edges = np.linspace(0.5, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    gap = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            gap += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(gap)


def reliability_bins(
    labels: np.ndarray, p_good: np.ndarray, bins: int = ECE_BINS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per confidence bin: mean confidence, accuracy and count (empty bins dropped), for the plot."""
    p_good = np.asarray(p_good, dtype=np.float64)
    predicted = (p_good >= 0.5).astype(int)
    confidence = np.where(predicted == 1, p_good, 1.0 - p_good)
    correct = (predicted == np.asarray(labels)).astype(float)
    edges = np.linspace(0.5, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    keep = [b for b in range(bins) if (which == b).any()]
    return (
        np.array([confidence[which == b].mean() for b in keep]),
        np.array([correct[which == b].mean() for b in keep]),
        np.array([(which == b).sum() for b in keep]),
    )


@dataclass(frozen=True)
class ClassifierMetrics:
    """Test figures of one model on one split; ``ece`` before, ``ece_calibrated`` after scaling."""

    accuracy: float
    macro_f1: float
    roc_auc: float
    ece: float
    ece_calibrated: float
    temperature: float
    confusion: tuple[tuple[int, int], tuple[int, int]]  # rows: true bad/good, columns: predicted

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def evaluate(labels: np.ndarray, logits: np.ndarray, temperature: float) -> ClassifierMetrics:
    """All report figures for test ``logits``, given a temperature fitted on development data."""
    labels = np.asarray(labels).astype(int)
    p_raw = sigmoid(logits)
    predicted = (p_raw >= 0.5).astype(int)
    constant = np.ptp(np.asarray(logits)) == 0  # e.g. the majority class: no ranking at all
    matrix = confusion_matrix(labels, predicted, labels=[0, 1])
    return ClassifierMetrics(
        accuracy=float(accuracy_score(labels, predicted)),
        macro_f1=float(f1_score(labels, predicted, average="macro", zero_division=0)),
        roc_auc=0.5 if constant else float(roc_auc_score(labels, p_raw)),
        ece=expected_calibration_error(labels, p_raw),
        ece_calibrated=expected_calibration_error(labels, sigmoid(np.asarray(logits) / temperature)),
        temperature=temperature,
        confusion=((int(matrix[0, 0]), int(matrix[0, 1])), (int(matrix[1, 0]), int(matrix[1, 1]))),
    )
