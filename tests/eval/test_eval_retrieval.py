"""Retrieval metrics on hand-checked rankings, question-set loading, and the report files."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import pytest

from eval.questions import QuestionSetError, load_questions, load_squad_questions
from eval.retrieval_eval import METRICS, ModeResult
from eval.retrieval_metrics import bootstrap_ci, first_gold_rank, ndcg_at, recall_at, reciprocal_rank
from eval.retrieval_report import write_retrieval_report
from rag.core.settings import Settings


def test_metrics_on_a_hand_checked_ranking() -> None:
    ranked = ["a", "g1", "b", "g2"]
    gold = ["g1", "g2"]
    assert first_gold_rank(ranked, gold) == 2
    assert recall_at(ranked, gold, 1) == 0.0
    assert recall_at(ranked, gold, 5) == 1.0
    assert reciprocal_rank(ranked, gold) == 0.5
    assert ndcg_at(ranked, gold) == pytest.approx(
        (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    )
    assert reciprocal_rank(["x"] * 10 + ["g1"], gold, 10) == 0.0


def test_bootstrap_interval_brackets_the_mean_and_is_reproducible() -> None:
    values = [1.0] * 30 + [0.0] * 70
    low, high = bootstrap_ci(values)
    assert low < 0.3 < high and high - low < 0.25
    assert bootstrap_ci(values) == (low, high)
    assert bootstrap_ci([1.0, 1.0]) == (1.0, 1.0)


def test_jsonl_questions_coerce_ids_and_report_bad_lines(tmp_path: Path) -> None:
    good = tmp_path / "q.jsonl"
    good.write_text('{"qid": "x", "question": "Was?", "gold_ids": [6315605], "date_from": "2022-01-01"}\n\n')
    [question] = load_questions(good).questions
    assert question.gold_ids == ("6315605",) and str(question.date_from) == "2022-01-01"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"qid": "x", "question": "Was?", "gold_ids": [1]}\n{"qid": "y", "question": ""}\n')
    loaded = load_questions(bad)
    assert [q.qid for q in loaded.questions] == ["x"]
    assert loaded.problems[0].startswith(f"{bad}:2: question: ")
    with pytest.raises(QuestionSetError, match="keine SQuAD-Datei"):
        load_squad_questions(good)


def test_real_question_sets_load(settings: Settings) -> None:
    data = settings.resolved_data_dir
    if not (data / "xquad-de" / "xquad.de.dev.json").exists():
        pytest.skip("data not provisioned: run `make test` or `heise-rag data provision`")
    squad = load_squad_questions(data / "xquad-de" / "xquad.de.dev.json").questions
    assert len(squad) == 632 and all(q.answer for q in squad)
    assert all("#" in q.gold_ids[0] for q in squad)
    heise = load_questions(data / "heise-qa" / "heise_qa_dev.jsonl").questions
    assert len(heise) == 26 and any(q.date_from for q in heise)


def test_report_files(tmp_path: Path) -> None:
    metrics = {m: 0.5 for m in ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10")}
    result = ModeResult(
        mode="hybrid",
        metrics=metrics,
        intervals={m: (0.4, 0.6) for m in metrics},
        latency_ms={"p50": 12.0, "p95": 30.0},
        rows=[{"qid": "q1", "mode": "hybrid", "rank": 2, "latency_ms": 12.0} | metrics],
    )
    write_retrieval_report([result], tmp_path, "Test", {"n_questions": 1})
    assert json.loads((tmp_path / "metrics.json").read_text())["modes"]["hybrid"]["ci95"]["mrr@10"] == [
        0.4,
        0.6,
    ]
    assert (tmp_path / "ranks.csv").read_text().splitlines()[1].startswith("q1,hybrid,2,")
    assert "| hybrid | 0.500 [0.400, 0.600]" in (tmp_path / "report.md").read_text()
    assert (tmp_path / "retrieval_metrics.png").stat().st_size > 5000
    assert "Paired differences" not in (tmp_path / "report.md").read_text()  # one mode: nothing to pair


def _mode(mode: str, mrr: Sequence[float]) -> ModeResult:
    rows = [
        {"qid": f"q{i}", "mode": mode, "rank": 1, "latency_ms": 1.0} | {m: value for m in METRICS}
        for i, value in enumerate(mrr)
    ]
    metrics = {m: sum(mrr) / len(mrr) for m in METRICS}
    return ModeResult(mode, metrics, {m: (0.0, 1.0) for m in METRICS}, {"p50": 1.0, "p95": 1.0}, rows)


def test_report_pairs_each_mode_with_the_first_per_question(tmp_path: Path) -> None:
    hybrid = _mode("hybrid", [1.0, 0.5, 0.5, 0.2] * 10)
    better = _mode("hybrid+rerank", [1.0, 1.0, 0.5, 0.5] * 10)  # never worse, better on half
    write_retrieval_report([hybrid, better], tmp_path, "Test", {"n_questions": 40})
    paired = json.loads((tmp_path / "metrics.json").read_text())["paired_differences"]["hybrid+rerank"]
    assert paired["mrr@10"]["delta"] == pytest.approx(0.2) and paired["mrr@10"]["n_paired"] == 40
    low, high = paired["mrr@10"]["ci95"]
    assert 0 < low < 0.2 < high
    report = (tmp_path / "report.md").read_text()
    assert "Paired differences against `hybrid`" in report
    assert "| hybrid+rerank | +0.200 [" in report and "] *" in report
