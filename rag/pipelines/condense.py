"""Follow-up questions rewritten into standalone questions before retrieval.

Why: retrieval sees one question at a time, and "Und was hat Microsoft dagegen getan?" finds
nothing useful without the turn before it. The chat model that answers also rewrites, with a short
German prompt, one worked example and a one-line budget. Its output is checked, because small
models often echo the follow-up, repeat the previous question or answer instead: a rewrite that is
empty, far too long, an earlier question, or drops the follow-up's own content words is not used.
Then the previous question and the follow-up are searched together, which keeps the topic and
time range of the conversation. An echo cannot be told from a follow-up that needed no rewrite;
joining costs little there (the hybrid search still finds the new topic), while a lost referent
costs the answer.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from stop_words import get_stop_words

from rag.pipelines.ask import MAX_QUESTION_CHARS

MAX_TURNS = 3  # earlier turns rarely matter for a follow-up and cost prompt time on a CPU
MAX_ANSWER_CHARS = 240  # of each earlier answer, enough to name what "es" or "dagegen" refers to
MAX_REWRITE_TOKENS = 64

CONDENSE_PROMPT = ChatPromptTemplate.from_messages(
    [
        (
            "system",
            "Schreibe die Folgefrage als eigenständige Frage, die ohne den Verlauf verständlich ist: "
            "Ersetze Wörter wie „er“, „das“ oder „dagegen“ durch das Gemeinte aus dem Verlauf. "
            "Beantworte die Frage nicht. Gib nur die Frage aus.",
        ),
        # One worked example: small models copy a pattern far more reliably than they follow rules.
        (
            "human",
            "Verlauf:\nNutzer: Was wurde zum Raspberry Pi 5 angekündigt?\nAssistent: Er bekommt einen "
            "schnelleren Prozessor [1].\n\nFolgefrage: Wann kommt er in den Handel?",
        ),
        ("ai", "Wann kommt der Raspberry Pi 5 in den Handel?"),
        ("human", "Verlauf:\n{history}\n\nFolgefrage: {question}"),
    ]
)

_PREFIX = re.compile(r"^\s*(?:eigenständige\s+frage|umformulierte\s+frage|frage)\s*:\s*", re.IGNORECASE)
_QUOTES = "\"'„“”«»‚‘’"  # noqa: RUF001 - German quotation marks are what the model emits
_WORD = re.compile(r"[^\W\d_]{2,}", re.UNICODE)
_GERMAN_STOP_WORDS = frozenset(get_stop_words("german")) | {"und", "denn", "dagegen", "dazu", "davon"}


@dataclass(frozen=True)
class Turn:
    """One earlier exchange of the chat."""

    question: str
    answer: str


How = Literal["typed", "rewritten", "joined"]


@dataclass(frozen=True)
class Condensed:
    """The question to search with and how it came about: as typed (no history), the model's
    rewrite, or the previous question joined with the follow-up."""

    question: str
    how: How
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


def content_words(text: str) -> set[str]:
    """Lower-cased words that carry meaning (no stop words), to check a rewrite kept them."""
    return {w for w in (m.lower() for m in _WORD.findall(text)) if len(w) > 2 and w not in _GERMAN_STOP_WORDS}


def clean_rewrite(text: str, question: str, history: Sequence[Turn]) -> str | None:
    """The model's rewrite as one clean question, or None when it is not usable (see the module)."""
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    line = _PREFIX.sub("", line).strip().strip(_QUOTES).strip()
    if not _WORD.search(line):
        return None
    # A standalone question adds the referent, a few words; far more is an answer or rambling.
    if len(line) > min(MAX_QUESTION_CHARS, max(3 * len(question), len(question) + 200)):
        return None
    same = {" ".join(content_words(t.question)) for t in history} | {" ".join(content_words(question))}
    if " ".join(content_words(line)) in same:
        return None  # an echo of the follow-up or of an earlier question
    own = content_words(question)
    if own and len(own & content_words(line)) * 2 < len(own):
        return None  # the follow-up's own subject got lost
    return line


def joined(history: Sequence[Turn], question: str) -> str:
    """The previous question and the follow-up, within the question length limit."""
    previous = " ".join(history[-1].question.split())
    room = MAX_QUESTION_CHARS - len(question) - 1
    return f"{previous[:room]} {question}".strip() if room > 0 else question


def condense_question(chat_model: BaseChatModel, history: Sequence[Turn], question: str) -> Condensed:
    """A standalone version of ``question`` given the chat ``history`` (unchanged without one)."""
    if not history:
        return Condensed(question, "typed")
    started = time.perf_counter()
    chain = CONDENSE_PROMPT | chat_model.bind(stop=["\n"], max_tokens=MAX_REWRITE_TOKENS) | StrOutputParser()
    text = chain.invoke({"history": format_history(history), "question": question})
    seconds = time.perf_counter() - started
    rewrite = clean_rewrite(text, question, history)
    if rewrite is None:
        return Condensed(joined(history, question), "joined", seconds)
    return Condensed(rewrite, "rewritten", seconds)
