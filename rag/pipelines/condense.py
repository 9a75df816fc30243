"""Follow-up questions: told apart from new questions, and rewritten into standalone ones.

Why: retrieval sees one question at a time, and "Und was hat Microsoft dagegen getan?" finds
nothing useful without the turn before it. But most questions in a chat name their own subject,
and searching those together with an earlier question drags in its topic and its date range (a
Log4j question after an Exchange question was searched for "Anfang 2022"). So a cheap, deterministic
check (`needs_context`) decides first; a question that stands alone is searched as typed.

Only a follow-up is rewritten: the chat model that answers also rewrites, with a short German
prompt, one worked example and a one-line budget. Its output is checked, because small models
often echo the follow-up, repeat the previous question or answer instead: a rewrite that is empty,
far too long, an earlier question, or drops the follow-up's own content words is not used. Then
the previous question and the follow-up are searched together, which keeps the topic and time
range of the conversation. An echo cannot be told from a follow-up that needed no rewrite;
joining costs little there (the hybrid search still finds the new topic), while a lost referent
costs the answer. Either way the answer says that the question was taken as a follow-up.
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

from rag.core.stopword_lists import german_stop_words
from rag.core.timefilter import MONTHS
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
_GERMAN_STOP_WORDS = german_stop_words() | {"und", "denn", "dagegen", "dazu", "davon"}


@dataclass(frozen=True)
class Turn:
    """One earlier exchange of the chat."""

    question: str
    answer: str


How = Literal["typed", "rewritten", "joined"]
_NOTICE = {"rewritten": "mit dem Verlauf umformuliert", "joined": "zusammen mit der vorigen Frage gesucht"}


@dataclass(frozen=True)
class Condensed:
    """The question to search with and how it came about: as typed (no history, or a question that
    stands alone), the model's rewrite, or the previous question joined with the follow-up."""

    question: str
    how: How
    seconds: float = 0.0

    @property
    def notices(self) -> tuple[str, ...]:
        """German lines for the answer, so the reader sees that the chat's context was used."""
        done = _NOTICE.get(self.how)
        return (f"Als Folgefrage verstanden und {done}: „{self.question}“",) if done else ()


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


# Words that open a continuation of the previous turn ("Und bei Apple?", "Aber warum?").
_CONTINUATIONS = frozenset({"und", "aber", "auch", "oder", "sowie", "außerdem"})
# Pronouns and pronominal adverbs that point at something named before them.
_BACK_REFERENCES = frozenset(
    {"er", "sie", "es", "ihn", "ihm", "ihnen", "dies", "diese", "dieser", "dieses", "diesem", "diesen"}
    | {"dort", "dorthin", "damals", "danach", "daraufhin", "darauf", "darüber", "dagegen", "dazu"}
    | {"davon", "dabei", "dafür", "davor", "dadurch", "deshalb", "deswegen", "ebenfalls", "zuvor"}
)
# Possessives usually point at their own clause's subject ("Wie schützt Apple seine Nutzer?").
_POSSESSIVES = frozenset({"sein", "seine", "seinen", "seinem", "seiner", "seines"}) | {
    "ihr", "ihre", "ihren", "ihrem", "ihrer", "ihres"
}  # fmt: skip
# "es" after these verbs is no pronoun: "Gibt es ...?", "Worum geht es bei ...?".
_IMPERSONAL = frozenset({"gibt", "gab", "geht", "ging", "steht", "stand"})
# Nouns that name no subject of their own: the referring ones ("der Hersteller") and the words of
# a time expression, which the date detection reads ("Ende 2021").
_REFERRING_NOUNS = frozenset(
    {"hersteller", "unternehmen", "firma", "konzern", "anbieter", "lücke", "fehler", "problem"}
    | {"vorfall", "nachfolger", "vorgänger", "gerät", "produkt", "angriff", "angreifer", "update", "patch"}
    | {"anfang", "mitte", "ende", "jahr", "jahres", "monat", "woche", "tag", "quartal", "zeit"}
    | {"frühling", "frühjahr", "sommer", "herbst", "winter"}
    | set(MONTHS)
)
_PREPOSITIONS = frozenset({"bei", "mit", "für", "in", "im", "von", "vom", "ab", "seit", "nach", "vor", "zu"})
_ELLIPTIC = re.compile(  # "Was ist mit Apple?", "Wie sieht es bei Google aus?"
    r"^(?i:was\s+ist|wie\s+ist\s+es|wie\s+sieht\s+es)\s+(?i:mit|bei)(?:\s+(?i:dem|der|den))?"
    r"(?:\s+[A-ZÄÖÜ][\w.-]*){1,3}(?:\s+aus)?\W*$"
)
_CLAUSE = re.compile(r"[,;:?!]|\s(?:und|oder|aber|sowie)\s", re.IGNORECASE)
_TOKEN = re.compile(r"\w+(?:[-.]\w+)*")


def _distinctive(word: str) -> bool:
    """A name by its form, in any case and position: Log4j, iPhone, DSGVO, Exchange-Server."""
    letters = [c for c in word if c.isalpha()]
    return bool(letters) and (
        any(c.isdigit() for c in word)
        or "-" in word
        or any(c.isupper() for c in word[1:])
        or (len(letters) > 1 and all(c.isupper() for c in letters))
    )


def needs_context(question: str, history: Sequence[Turn]) -> bool:
    """Whether ``question`` can only be understood with the earlier turns.

    A follow-up continues ("Und bei Apple?"), is elliptic ("Was ist mit Apple?", "Bei Apple?"),
    points back with a pronoun or pronominal adverb that nothing earlier in the question resolves
    ("Wie teuer ist er?", "Was passierte danach?"), or names no subject of its own. German
    capitalises nouns, so a capitalised word after the first one is taken as the question's own
    subject; in a question typed all in lower case two content words have to stand in for that.
    """
    if not history:
        return False
    clauses = [_TOKEN.findall(clause) for clause in _CLAUSE.split(question.strip())]
    words = [(number, word) for number, clause in enumerate(clauses) for word in clause]
    if not words:
        return False
    first = words[0][1].lower()
    if first in _CONTINUATIONS or _ELLIPTIC.match(question.strip()):
        return True
    if first in _PREPOSITIONS and len(words) <= 3:
        return True
    cased = any(word[0].isupper() for _, word in words[1:])
    subjects: list[tuple[int, int]] = []  # (clause, position) of every word that names a subject
    for position, (clause, word) in enumerate(words):
        lower = word.lower()
        if _distinctive(word):
            subjects.append((clause, position))
        elif lower in _REFERRING_NOUNS or lower in _GERMAN_STOP_WORDS or not _WORD.fullmatch(word):
            continue
        elif (position > 0 and word[0].isupper()) if cased else len(lower) > 2:
            subjects.append((clause, position))
    distinctive = any(_distinctive(word) for _, word in words)
    if len(subjects) < (1 if cased or distinctive else 2):
        return True
    for position, (clause, word) in enumerate(words):
        lower = word.lower()
        if position > 0 and word[0].isupper() and lower in {"sie", "ihr", "ihre", "ihnen", "ihren"}:
            continue  # the polite "Sie"/"Ihre", not a pronoun for something earlier
        if lower == "es" and position > 0 and words[position - 1][1].lower() in _IMPERSONAL:
            continue
        if lower in _POSSESSIVES:
            if not any(p < position for _, p in subjects):
                return True
        elif lower in _BACK_REFERENCES and not any(c < clause for c, _ in subjects):
            return True
    return False


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
    """A standalone version of ``question`` given the chat ``history``: unchanged without one and
    for a question that stands alone (`needs_context`), so that nothing of an earlier turn, its
    date range included, reaches the search of a new topic."""
    if not needs_context(question, history):
        return Condensed(question, "typed")
    started = time.perf_counter()
    chain = CONDENSE_PROMPT | chat_model.bind(stop=["\n"], max_tokens=MAX_REWRITE_TOKENS) | StrOutputParser()
    text = chain.invoke({"history": format_history(history), "question": question})
    seconds = time.perf_counter() - started
    rewrite = clean_rewrite(text, question, history)
    if rewrite is None:
        return Condensed(joined(history, question), "joined", seconds)
    return Condensed(rewrite, "rewritten", seconds)
