"""Whether a question asks for a fact a span can name, or for a yes or no.

Why: the extractive answer is the reader's span, which answers "Wer …?" or "Wie viele …?" well
but not "Darf die Post Handy-Briefmarken nach 14 Tagen löschen?": there the reader still picks a
span ("14 Tagen"), and a bare "14 Tagen [1]." reads like an answer that it is not. A yes/no
question gets the statement the span stands in instead, quoted from its source; whether that
statement means yes or no is left to the reader of the answer rather than guessed by a heuristic.

The rule is deliberately narrow, because a span is the better answer for every question it can
answer: a question is yes/no when it has no question word (German or English), offers no
alternatives ("hoch oder gering?": the span picks one) and is no imperative ("Nennen Sie …").
German fronts its question words, but not always ("Der Verlust welcher Region …?"), so they count
anywhere in the question, including compounds such as "Wievielfache" and "wofür".
"""

from __future__ import annotations

import re

_QUESTION_WORD = re.compile(
    r"\b(?:wer|wen|wem|wessen|was|wann|wo|wie|wieso|weshalb|weswegen|warum|welch\w*|wieviel\w*"
    r"|wo(?:r|)(?:aus|bei|durch|für|gegen|her|hin|mit|nach|an|auf|in|über|um|unter|von|vor|zu)"
    r"|inwiefern|inwieweit"
    r"|what|who|whom|whose|when|where|which|why|how)\b",
    re.IGNORECASE,
)
_ALTERNATIVE = re.compile(r"\boder\b|\bor\b", re.IGNORECASE)
_IMPERATIVE = re.compile(r"^\s*\w+\s+Sie\b")  # "Nennen Sie …", "Beschreiben Sie …"


def is_yes_no_question(question: str) -> bool:
    """True for "Darf …?", "Hat Microsoft …?", "Did …?"; False for anything a span can answer."""
    return not (
        _QUESTION_WORD.search(question) or _ALTERNATIVE.search(question) or _IMPERATIVE.match(question)
    )
