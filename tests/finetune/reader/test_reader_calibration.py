"""The reader's confidence refit on dev answers: headlines get their own Platt scaling, the points
come from the answers' evidence, and the fit improves calibration where the old one was off."""

from __future__ import annotations

import random

import pytest

from eval.answer_eval import AnswerRecord
from eval.questions import EvalQuestion
from finetune.reader.calibrate import CalibrationPoint, calibration_points, fit_by_passage_kind, per_reader
from rag.core.answer import Answer, AppliedFilters, Evidence, SourceRef
from rag.reader.model import HEADLINE_CHARS, Calibration


def test_headlines_use_their_own_scaling_only_when_it_is_set() -> None:
    plain = Calibration(slope=1.0, bias=0.0)
    assert plain.probability(-10.0, 60) == pytest.approx(plain.probability(-10.0))
    split = Calibration(slope=1.0, bias=0.0, headline_chars=200, headline_slope=0.5, headline_bias=5.0)
    assert split.probability(-10.0, 60) == pytest.approx(0.5)  # sigmoid(0.5 * -10 + 5)
    assert split.probability(-10.0, 201) == pytest.approx(plain.probability(-10.0))
    assert split.probability(-10.0) == pytest.approx(plain.probability(-10.0))  # length unknown


def _record(qid: str, span: str, reference: str | None, margin: float, chars: int) -> AnswerRecord:
    question = EvalQuestion(qid=qid, question="Welche Bank?", gold_ids=("g",), answer=reference)
    evidence = Evidence(
        source=1,
        article_id="g",
        span=span,
        sentence=span,
        start=0,
        end=len(span),
        confidence=0.01,
        margin=margin,
        passage_chars=chars,
    )
    source = SourceRef(number=1, article_id="g", source="heise", title="t", score=1.0, passage="p")
    answer = Answer(
        question=question.question,
        text=f"{span} [1].",
        sources=[source],
        citations=[source],
        filters=AppliedFilters(),
        refused=False,
        evidence=[evidence],
        confidence=0.01,
    )
    return AnswerRecord(question, answer, None, 0.1)


def test_points_come_from_the_answering_evidence_and_skip_what_cannot_be_scored() -> None:
    records = [
        _record("a", "Targobank", "die Targobank", -11.5, 70),
        _record("b", "Sparkasse", "Targobank", 4.0, 900),
        _record("c", "Targobank", None, 1.0, 70),  # no reference: nothing to learn from
        AnswerRecord(EvalQuestion(qid="d", question="x?", gold_ids=("g",), answer="y"), None, "Fehler", 0.1),
    ]
    assert calibration_points(records) == [
        CalibrationPoint("a", -11.5, 70, 1),
        CalibrationPoint("b", 4.0, 900, 0),
    ]


def test_the_fit_calibrates_headlines_that_one_scaling_called_wrong() -> None:
    rng = random.Random(0)
    # headlines: margins around -11, right a third of the time, a little more often at higher margins
    headlines = [
        CalibrationPoint(f"h{i}", m, 70, int(rng.random() < (0.5 if m > -11 else 0.2)))
        for i, m in enumerate(rng.uniform(-14, -8) for _ in range(60))
    ]
    # paragraphs: margins around +5, right when the margin is high
    paragraphs = [
        CalibrationPoint(f"p{i}", m, 800, int(rng.random() < (0.8 if m > 5 else 0.3)))
        for i, m in enumerate(rng.uniform(-2, 12) for _ in range(200))
    ]
    before = Calibration(slope=0.36, bias=-2.14)  # the training run's fit
    fit = fit_by_passage_kind([*headlines, *paragraphs], before)
    assert fit.calibration.headline_chars == HEADLINE_CHARS
    assert fit.calibration.headline_slope is not None and fit.calibration.headline_bias is not None
    row = fit.figures["headline"]
    assert row["mean_confidence_before"] < 0.01
    assert row["mean_confidence_after"] == pytest.approx(row["right"], abs=0.05)
    assert row["ece_after"] < row["ece_before"]
    assert fit.figures["passage"]["ece_after"] <= fit.figures["passage"]["ece_before"]


def test_a_kind_with_one_outcome_keeps_the_old_scaling() -> None:
    points = [CalibrationPoint(f"h{i}", -10.0 + i, 70, 0) for i in range(5)]
    before = Calibration(slope=0.36, bias=-2.14)
    fit = fit_by_passage_kind(points, before)
    assert (fit.calibration.slope, fit.calibration.bias) == (before.slope, before.bias)
    assert fit.calibration.headline_slope is None and "passage" not in fit.figures


def test_with_a_passage_reader_the_reader_keeps_its_own_passage_scaling() -> None:
    reader = Calibration(slope=0.3, bias=-2.0)
    fitted = Calibration(slope=0.1, bias=-1.0, headline_chars=200, headline_slope=0.2, headline_bias=0.8)
    assert per_reader(fitted, reader, passage_reader=False) == [fitted]
    own, passage = per_reader(fitted, reader, passage_reader=True)
    assert passage == fitted
    # the headline scaling is new (it saw the reader's headline margins), the passage one its own
    assert (own.headline_slope, own.headline_bias, own.headline_chars) == (0.2, 0.8, 200)
    assert (own.slope, own.bias) == (0.3, -2.0)
