"""Evaluation question sets: the project's JSONL format and SQuAD-format files.

JSONL, one object a line: ``{"qid", "question", "gold_ids": [article ids], "answer": optional
reference answer, "date_from": optional, "date_to": optional}``; other keys are ignored. In a
SQuAD file every question's gold article is its paragraph, with the id ``<title>#<paragraph
index>`` that the SQuAD ingest source gives it, and its answer is the first answer span.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class QuestionSetError(ValueError):
    """A question file that cannot be read; the message names the file and line."""


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


def load_questions(path: Path) -> list[EvalQuestion]:
    """Every question of a JSONL file; a bad line stops with its number (an eval must be exact)."""
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            questions.append(EvalQuestion.model_validate_json(line))
        except ValidationError as exc:
            raise QuestionSetError(f"{path}:{number}: {exc.errors()[0]['msg']}") from exc
    if not questions:
        raise QuestionSetError(f"{path}: no questions")
    return questions


def load_squad_questions(path: Path) -> list[EvalQuestion]:
    """Questions of a SQuAD v1.1 file, gold = the paragraph's article id."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))["data"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise QuestionSetError(f"{path}: not a SQuAD file ({exc})") from exc
    questions = []
    for article in data:
        for number, paragraph in enumerate(article["paragraphs"]):
            for qa in paragraph["qas"]:
                answers = qa.get("answers") or []
                questions.append(
                    EvalQuestion(
                        qid=qa["id"],
                        question=qa["question"],
                        gold_ids=(f"{article['title']}#{number}",),
                        answer=answers[0]["text"] if answers else None,
                    )
                )
    return questions
