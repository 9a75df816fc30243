"""A question file for the eval commands against the shared two-article index (`ask_env`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture
def question_file(tmp_path: Path) -> Path:
    """Two good questions, one malformed line, one question whose gold article is not indexed."""
    lines = [
        {
            "qid": "q1",
            "question": "Welcher Fehler stoppte Exchange?",
            "gold_ids": [6315605],
            "answer": "Datumsfehler",
        },
        {"qid": "q2", "question": "Wie schnell ist der neue Raspberry Pi?", "gold_ids": ["7000001"]},
        {"qid": "q3", "question": "Was ist mit Tesla?", "gold_ids": ["999"], "answer": "nichts"},
    ]
    path = tmp_path / "questions.jsonl"
    text = [json.dumps(lines[0]), '{"qid": "bad", "question": ', json.dumps(lines[1]), json.dumps(lines[2])]
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    return path
