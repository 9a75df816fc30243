"""Metric floors and the comparison with a baseline report (paired bootstrap), by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.gates import (
    GateError,
    compare_with_baseline,
    failed_floors,
    format_differences,
    paired_difference_ci,
    parse_floor,
    write_per_question,
)


def test_floors() -> None:
    assert parse_floor("hybrid.mrr@10=0.5") == ("hybrid.mrr@10", 0.5)
    for bad in ("mrr", "=0.5", "mrr=high"):
        with pytest.raises(GateError):
            parse_floor(bad)
    flat = {"a": 0.4, "b": 0.9, "c": float("nan")}
    assert failed_floors(flat, [("a", 0.5), ("b", 0.5)]) == ["a = 0.4000 < 0.5"]
    assert failed_floors(flat, [("c", 0.0)]) == ["c = nan < 0.0"]
    with pytest.raises(GateError, match="unbekannte Metrik"):
        failed_floors(flat, [("typo", 0.1)])


def test_paired_difference_by_hand(tmp_path: Path) -> None:
    low, high = paired_difference_ci([1, 1, 0, 0], [0, 1, 0, 0])
    assert 0 <= low <= 0.25 <= high <= 0.75
    now, before = tmp_path / "now", tmp_path / "before"
    now.mkdir()
    before.mkdir()
    write_per_question(
        now / "per_question.csv", {"q1": {"f1": 1.0, "p": None}, "q2": {"f1": 1.0}, "q3": {"f1": 0.0}}
    )
    write_per_question(
        before / "per_question.csv", {"q1": {"f1": 0.0, "p": 1.0}, "q2": {"f1": 1.0}, "q4": {"f1": 1.0}}
    )
    [diff] = compare_with_baseline(now, before)
    assert (diff.metric, diff.n_paired) == ("f1", 2)  # q3/q4 are not shared, p is undefined now
    assert (diff.current, diff.baseline, diff.delta) == (1.0, 0.5, 0.5)
    assert "0.5000 -> 1.0000" in format_differences([diff])[0]
    with pytest.raises(GateError, match="keine Ergebnisse je Frage"):
        compare_with_baseline(now, tmp_path / "missing")
