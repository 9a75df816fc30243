"""Metrics and temperature scaling, checked on data whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from eval.classifier_metrics import evaluate, expected_calibration_error, fit_temperature, sigmoid


def _calibrated_sample(n: int = 20_000) -> tuple[np.ndarray, np.ndarray]:
    """Log-odds and labels drawn so that sigmoid(log-odds) is the true probability."""
    rng = np.random.default_rng(0)
    logits = rng.normal(0.0, 2.0, n)
    labels = (rng.random(n) < sigmoid(logits)).astype(int)
    return logits, labels


def test_temperature_recovers_an_overconfident_scale() -> None:
    logits, labels = _calibrated_sample()
    assert fit_temperature(labels, 3.0 * logits) == pytest.approx(3.0, rel=0.05)


def test_ece_is_small_when_calibrated_and_large_when_not() -> None:
    logits, labels = _calibrated_sample()
    assert expected_calibration_error(labels, sigmoid(logits)) < 0.02
    assert expected_calibration_error(labels, sigmoid(4.0 * logits)) > 0.1


def test_evaluate_on_a_hand_checked_example() -> None:
    labels = np.array([0, 0, 1, 1, 1])
    logits = np.array([-2.0, 1.0, 0.5, 3.0, -1.0])  # predictions 0, 1, 1, 1, 0
    m = evaluate(labels, logits, temperature=1.0)
    assert m.accuracy == pytest.approx(3 / 5)
    assert m.confusion == ((1, 1), (1, 2))
    assert m.macro_f1 == pytest.approx((0.5 + 2 / 3) / 2)
    assert m.roc_auc == pytest.approx(4 / 6)


def test_a_constant_model_has_chance_auc() -> None:
    m = evaluate(np.array([0, 1, 1]), np.full(3, 0.3), temperature=1.0)
    assert m.roc_auc == 0.5 and m.accuracy == pytest.approx(2 / 3)


def test_temperature_needs_both_classes() -> None:
    with pytest.raises(ValueError, match="both classes"):
        fit_temperature(np.ones(4), np.zeros(4))
