"""Follow-up questions rewritten into standalone questions before retrieval.

Why: retrieval sees one question at a time, and "Und was hat Microsoft dagegen getan?" finds
nothing useful without the turn before it. The chat model that answers also rewrites, with a short
German prompt and a one-line budget. Its output is checked: when it returns nothing usable (empty,
no words, far too long, an answer instead of a question), the follow-up is searched unchanged, so a
weak model can never make a question worse than asking it as typed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

from langchain_core.language_models import BaseChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from rag.chain import MAX_QUESTION_CHARS

MAX_TURNS = 3  # earlier turns rarely matter for a follow-up and cost prompt time on a CPU
MAX_ANSWER_CHARS = 400  # of each earlier answer, enough to name what "es" or "dagegen" refers to
MAX_REWRITE_TOKENS = 64

CONDENSE_PROMPT = ChatPromptTemplate.from_messages(
    [
        (
            "system",
            "Du formulierst Folgefragen um. Gegeben sind ein Gesprächsverlauf und eine Folgefrage. "
            "Schreibe die Folgefrage als eigenständige deutsche Frage, die ohne den Verlauf verständlich "
            "ist: Ersetze Pronomen und Bezüge durch das Gemeinte und übernimm Zeitangaben aus dem "
            "Verlauf, wenn sich die Folgefrage darauf bezieht. Beantworte die Frage nicht. Gib nur die "
            "umformulierte Frage in einer Zeile aus.",
        ),
        ("human", "Verlauf:\n{history}\n\nFolgefrage: {question}\n\nEigenständige Frage:"),
    ]
)

_PREFIX = re.compile(r"^\s*(?:eigenständige\s+frage|umformulierte\s+frage|frage)\s*:\s*", re.IGNORECASE)
_QUOTES = "\"'„“”«»‚‘’"  # noqa: RUF001 - German quotation marks are what the model emits
_WORD = re.compile(r"[^\W\d_]{2,}", re.UNICODE)


@dataclass(frozen=True)
class Turn:
    """One earlier exchange of the chat."""

    question: str
    answer: str


@dataclass(frozen=True)
class Condensed:
    """The question to search with; ``rewritten`` is False when the follow-up is used as typed."""

    question: str
    rewritten: bool
    seconds: float = 0.0


def format_history(turns: Sequence[Turn]) -> str:
    """The last turns as plain lines, long answers cut, for the condense prompt."""
    lines = []
    for turn in turns[-MAX_TURNS:]:
        answer = " ".join(turn.answer.split())
        if len(answer) > MAX_ANSWER_CHARS:
            answer = answer[:MAX_ANSWER_CHARS].rsplit(" ", 1)[0] + " …"
        lines += [f"Nutzer: {' '.join(turn.question.split())}", f"Assistent: {answer}"]
    return "\n".join(lines)


def clean_rewrite(text: str, question: str) -> str | None:
    """The model's rewrite as one clean question, or None when it is not usable."""
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    line = _PREFIX.sub("", line).strip().strip(_QUOTES).strip()
    if not _WORD.search(line):
        return None
    # A standalone question adds the referent, a few words; far more is an answer or rambling.
    if len(line) > min(MAX_QUESTION_CHARS, max(3 * len(question), len(question) + 200)):
        return None
    return line


def condense_question(chat_model: BaseChatModel, history: Sequence[Turn], question: str) -> Condensed:
    """A standalone version of ``question`` given the chat ``history`` (unchanged without one)."""
    if not history:
        return Condensed(question, rewritten=False)
    started = time.perf_counter()
    chain = CONDENSE_PROMPT | chat_model.bind(stop=["\n"], max_tokens=MAX_REWRITE_TOKENS) | StrOutputParser()
    text = chain.invoke({"history": format_history(history), "question": question})
    seconds = time.perf_counter() - started
    rewrite = clean_rewrite(text, question)
    if rewrite is None or rewrite == question.strip():
        return Condensed(question, rewritten=False, seconds=seconds)
    return Condensed(rewrite, rewritten=True, seconds=seconds)
