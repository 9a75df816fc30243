"""Refit the reader's confidence on real dev answers, with a separate scaling for headlines.

Why not the training run's fit: it is fitted on the reader's own development split, mostly synthetic
cloze questions, and does not transfer. On real questions the reader's margins depend on the kind of
passage: on heise headlines they lie between -14 and -1 although a third of those answers contain
the reference, on XQuAD paragraphs they centre at +8. One Platt scaling gave every headline answer a
confidence below 0.01. This fit asks every question of the dev sets through the configured pipeline
(retrieval, reader; no refusals), takes the answering span's margin and passage length, and fits one
Platt scaling for passages of at most ``headline_chars`` characters and one for longer ones, on
"the span's token F1 against the reference >= 0.5" (the training run's definition of right).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from eval.answer_eval import AnswerRecord, run_answers
from eval.answer_metrics import token_f1
from eval.classifier_metrics import expected_calibration_error
from eval.questions import QuestionSet
from finetune.reader.training import RIGHT_F1, fit_calibration
from rag.core.settings import Settings
from rag.pipelines.ask import AskOptions
from rag.pipelines.components import open_pipeline
from rag.reader.model import HEADLINE_CHARS, Calibration


@dataclass(frozen=True)
class CalibrationPoint:
    """The answering span of one dev question: its margin, its passage's length, whether it is right."""

    qid: str
    margin: float
    passage_chars: int
    right: int


@dataclass(frozen=True)
class CalibrationFit:
    """The new calibration and, per passage kind, how many points it saw and the ECE before/after."""

    calibration: Calibration
    figures: dict[str, dict[str, float]]


def calibration_points(records: Sequence[AnswerRecord]) -> list[CalibrationPoint]:
    """One point per answered question with a reference whose answer came with the reader's evidence."""
    points = []
    for record in records:
        if record.answer is None or not record.answer.evidence or record.question.answer is None:
            continue
        best = record.answer.evidence[0]
        right = int(token_f1(best.span, record.question.answer) >= RIGHT_F1)
        points.append(CalibrationPoint(record.question.qid, best.margin, best.passage_chars, right))
    return points


def collect_points(
    settings: Settings, question_sets: Sequence[tuple[QuestionSet, str]]
) -> list[CalibrationPoint]:
    """Ask each (question set, collection) through the configured pipeline, refusing nothing."""
    refuse_nothing = {"reader_min_confidence": 0.0, "reader_passage_min_confidence": 0.0}
    settings = settings.model_copy(update=refuse_nothing)
    points: list[CalibrationPoint] = []
    for questions, collection in question_sets:
        with open_pipeline(settings, collection=collection) as pipeline:
            if not pipeline.reads:
                raise ValueError(
                    "Die Pipeline liest nicht (HEISE_RAG_ANSWER_MODE=generate?); nichts zu kalibrieren."
                )
            options = AskOptions(k=settings.answer_sources, mode=settings.retrieval_mode)
            points += calibration_points(run_answers(questions.questions, pipeline, options))
    return points


def fit_by_passage_kind(
    points: Sequence[CalibrationPoint], before: Calibration, headline_chars: int = HEADLINE_CHARS
) -> CalibrationFit:
    """Fit the long-passage and the headline scaling; a kind without both outcomes keeps ``before``'s."""
    kinds = {
        "headline": [p for p in points if p.passage_chars <= headline_chars],
        "passage": [p for p in points if p.passage_chars > headline_chars],
    }
    fitted = {
        kind: fit_calibration([p.margin for p in found], [p.right for p in found]) if found else None
        for kind, found in kinds.items()
    }
    passage = fitted["passage"] if _both_outcomes(kinds["passage"]) else None
    headline = fitted["headline"] if _both_outcomes(kinds["headline"]) else None
    after = replace(
        before,
        slope=passage.slope if passage else before.slope,
        bias=passage.bias if passage else before.bias,
        headline_chars=headline_chars,
        headline_slope=headline.slope if headline else None,
        headline_bias=headline.bias if headline else None,
    )
    figures = {
        kind: {
            "n": float(len(found)),
            "right": float(np.mean([p.right for p in found])),
            "mean_confidence_before": _mean_confidence(before, found),
            "mean_confidence_after": _mean_confidence(after, found),
            "ece_before": _ece(before, found),
            "ece_after": _ece(after, found),
        }
        for kind, found in kinds.items()
        if found
    }
    return CalibrationFit(after, figures)


def _both_outcomes(points: Sequence[CalibrationPoint]) -> bool:
    return len({p.right for p in points}) == 2


def _confidences(calibration: Calibration, points: Sequence[CalibrationPoint]) -> np.ndarray:
    return np.array([calibration.probability(p.margin, p.passage_chars) for p in points])


def _mean_confidence(calibration: Calibration, points: Sequence[CalibrationPoint]) -> float:
    return float(_confidences(calibration, points).mean())


def _ece(calibration: Calibration, points: Sequence[CalibrationPoint]) -> float:
    labels = np.array([p.right for p in points])
    return expected_calibration_error(labels, _confidences(calibration, points))


def per_reader(fitted: Calibration, reader: Calibration, passage_reader: bool) -> list[Calibration]:
    """What each configured reader stores: [reader] or [reader, passage reader].

    With a passage reader the reader reads only headlines, so only its headline scaling is refitted;
    its passage scaling stays the one that fits its own margins, for use without the passage reader.
    """
    if not passage_reader:
        return [fitted]
    return [replace(fitted, slope=reader.slope, bias=reader.bias), fitted]
