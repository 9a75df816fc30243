"""Evaluation question sets: the project's JSONL format and SQuAD-format files.

JSONL, one object a line: ``{"qid", "question", "gold_ids": [article ids], "answer": optional
reference answer, "date_from": optional, "date_to": optional}``; other keys are ignored. In a
SQuAD file every question's gold article is its paragraph, with the id ``<title>#<paragraph
index>`` that the SQuAD ingest source gives it, and its answer is the first answer span.

Why bad lines are reported instead of stopping: one malformed line in a hand-edited file must not
cost the evaluation of the other questions; the report lists every skipped line with its reason.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class QuestionSetError(ValueError):
    """A question file that cannot be used at all; the message names the file."""


class EvalQuestion(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    qid: str
    question: str = Field(min_length=1)
    gold_ids: tuple[str, ...] = Field(min_length=1)
    answer: str | None = None
    date_from: date | None = None
    date_to: date | None = None

    @field_validator("qid", mode="before")
    @classmethod
    def _qid_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) else value

    @field_validator("gold_ids", mode="before")
    @classmethod
    def _ids_as_text(cls, value: object) -> object:
        return [str(v) for v in value] if isinstance(value, list) else value


@dataclass
class QuestionSet:
    """The usable questions of a file and one line per problem (``file:line: reason``)."""

    path: Path
    questions: list[EvalQuestion]
    problems: list[str] = field(default_factory=list)


def _reason(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error.get("loc", ()))
    return f"{where}: {error['msg']}" if where else error["msg"]


def load_questions(path: Path) -> QuestionSet:
    """The questions of a JSONL file; malformed lines and repeated ids are reported and skipped."""
    questions: list[EvalQuestion] = []
    problems: list[str] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            question = EvalQuestion.model_validate_json(line)
        except ValidationError as exc:
            problems.append(f"{path}:{number}: {_reason(exc)}")
            continue
        if question.qid in seen:
            problems.append(f"{path}:{number}: qid {question.qid!r} kommt doppelt vor; die erste zählt")
            continue
        seen.add(question.qid)
        questions.append(question)
    if not questions:
        detail = f" ({len(problems)} unbrauchbare Zeilen, erste: {problems[0]})" if problems else ""
        raise QuestionSetError(f"{path}: keine brauchbaren Fragen{detail}")
    return QuestionSet(path, questions, problems)


def load_squad_questions(path: Path) -> QuestionSet:
    """Questions of a SQuAD v1.1 file, gold = the paragraph's article id."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))["data"]
        if not isinstance(data, list):
            raise TypeError("`data` ist keine Liste")
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise QuestionSetError(f"{path}: keine SQuAD-Datei ({exc})") from exc
    questions: list[EvalQuestion] = []
    problems: list[str] = []
    for article in data:
        for number, paragraph in enumerate(article.get("paragraphs", [])):
            for qa in paragraph.get("qas", []):
                answers = qa.get("answers") or []
                try:
                    questions.append(
                        EvalQuestion(
                            qid=qa.get("id", ""),
                            question=qa.get("question", ""),
                            gold_ids=(f"{article.get('title')}#{number}",),
                            answer=answers[0]["text"] if answers else None,
                        )
                    )
                except ValidationError as exc:
                    problems.append(f"{path}: {article.get('title')}#{number} {qa.get('id')}: {_reason(exc)}")
    if not questions:
        raise QuestionSetError(f"{path}: keine Fragen")
    return QuestionSet(path, questions, problems)


def load_question_set(questions: Path | None, squad: Path | None) -> QuestionSet:
    """Exactly one of a JSONL file or a SQuAD file, as the eval commands take them."""
    if (questions is None) == (squad is None):
        raise QuestionSetError("genau eine der Optionen --questions oder --squad angeben")
    if questions is not None:
        return load_questions(questions)
    assert squad is not None
    return load_squad_questions(squad)


def sample(questions: Sequence[EvalQuestion], limit: int | None, seed: int) -> list[EvalQuestion]:
    """All questions, or a seeded sample of ``limit`` of them in file order.

    Why seeded: answering a question costs seconds on a CPU, so `make eval` scores answers on a
    sample; the same seed gives the same questions, and so the same numbers, every run.
    """
    if limit is None or limit >= len(questions):
        return list(questions)
    chosen = set(random.Random(seed).sample(range(len(questions)), limit))
    return [q for i, q in enumerate(questions) if i in chosen]


XquadPart = Literal["sft", "heldout"]
HELDOUT_SHARE = 0.5


def xquad_part(title: str, heldout_share: float = HELDOUT_SHARE) -> XquadPart:
    """Stable per-article half of XQuAD: ``sft`` articles may be trained on (the answer adapter, the
    reader), ``heldout`` articles never are; the same title always lands in the same part."""
    bucket = int(hashlib.sha256(title.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "heldout" if bucket < heldout_share else "sft"


def article_of(paragraph_id: str) -> str:
    """The Wikipedia page name of a paragraph id ``<title>#<number>`` (``ingest/sources/squad.py``)."""
    return paragraph_id.rsplit("#", 1)[0]


def heldout_only(questions: QuestionSet) -> QuestionSet:
    """The questions of XQuAD's held-out articles: what an evaluation of trained models may use."""
    kept = [q for q in questions.questions if xquad_part(article_of(q.gold_ids[0])) == "heldout"]
    return QuestionSet(questions.path, kept, questions.problems)
