"""Three alternative phrasings of a headline from the answer model, for the headline check.

Why the answer model: it is already loaded for asking, speaks German, and a phrasing suggestion
needs no grounding. Its lines are cleaned (numbering, bullets, quotes) and each one must pass the
classifier's own headline check; a model that writes fewer usable lines yields fewer suggestions.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

COUNT = 3
MAX_TOKENS = 160

PROMPT = ChatPromptTemplate.from_messages(
    [
        (
            "system",
            "Du bist Redakteur bei heise online. Formuliere zu der Schlagzeile genau drei alternative "
            "deutsche Schlagzeilen mit demselben Inhalt, jede höchstens 80 Zeichen lang. Gib nur die "
            "drei Schlagzeilen aus, eine pro Zeile, ohne Nummern, Erklärungen oder Anführungszeichen.",
        ),
        ("human", "Schlagzeile: {headline}"),
    ]
)

_BULLET = re.compile(r"^\s*(?:[-*•–]|\d+[.):]|schlagzeile\s*\d*\s*:)\s*", re.IGNORECASE)  # noqa: RUF001
_QUOTES = "\"'„“”«»‚‘’"  # noqa: RUF001


def parse_alternatives(text: str, original: str) -> list[str]:
    """Up to three distinct, valid headlines from the model's lines, the original excluded."""
    from rag.engagement.predictor import HeadlineError, validate_headline  # imports torch: only when used

    seen = {original.casefold().strip()}
    found: list[str] = []
    for line in text.splitlines():
        candidate = _BULLET.sub("", line).strip().strip(_QUOTES).strip()
        if candidate.endswith(":"):  # "Hier sind drei Vorschläge:" introduces, it is no headline
            continue
        try:
            headline = validate_headline(candidate)
        except HeadlineError:
            continue
        if headline.casefold() in seen or len(headline) > 2 * max(len(original), 80):
            continue
        seen.add(headline.casefold())
        found.append(headline)
        if len(found) == COUNT:
            break
    return found


def suggest_alternatives(chat_model: BaseChatModel, headline: str) -> list[str]:
    chain = PROMPT | chat_model.bind(max_tokens=MAX_TOKENS) | StrOutputParser()
    return parse_alternatives(chain.invoke({"headline": headline}), headline)
