"""Whether a question asks for a fact a span can name, for a number or date, or for a yes or no.

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

Why numbers: "Wie viele …?", "Wann …?", "In welchem Jahr …?" are answered by a number, a date or a
number word in 85 of 86 such dev questions (XQuAD held-out and heise), yet the reader's best span
held none in 14 of 84 XQuAD ones (a first, narrower list of forms; "Deutsche Welle" for "Wie
viele Sender …?"). The reader then takes its best span that names one (``rag/reader/reader.py``),
if any.

Why "what happened": "Was war Anfang 2022 mit Exchange los?", "Was passierte mit Uniper?" or "Was
wurde aus Hyperloop One?" ask for an event, which a span cuts up ("Antimalware-Engine [1]." for the
first, "Hyperloop One hat wohl den Betrieb [1]." without its verb for the last); the statement
that holds the span answers them, so they get it quoted like a yes/no question. So do questions
for a reason or purpose ("Warum …?", "Wozu …?"): a span names a noun of the reason at best
("Badbazaar [1]." for "Wozu missbraucht eine Schadsoftware Android-Geräte?").
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


def opens_with_question_word(span: str) -> bool:
    """True for "Wann Apple angeblich die Veröffentlichung plant", "Welche Reaktionen": an indirect
    question names what is asked, not the answer (none of the 632 XQuAD dev references opens with a
    question word; headlines such as "iPadOS 17: Wann Apple … plant" offered the reader such spans)."""
    return _QUESTION_WORD.match(span.lstrip()) is not None


def is_yes_no_question(question: str) -> bool:
    """True for "Darf …?", "Hat Microsoft …?", "Did …?"; False for anything a span can answer."""
    return not (
        _QUESTION_WORD.search(question) or _ALTERNATIVE.search(question) or _IMPERATIVE.match(question)
    )


_WHAT_HAPPENED = re.compile(
    r"^\s*(?:und\s+)?was\s+(?:"
    r"(?:ist|war|wäre)\b[^?]*\blos(?:\s*\?|\s+(?:bei|mit|in|im|auf)\b)"  # "… mit Exchange los?"
    r"|(?:passiert|passierte|geschah|geschieht)\b"  # "Was passierte mit Uniper?"
    r"|(?:ist|war|sind|waren)\b[^?]*\b(?:passiert|geschehen)\b"  # "Was ist bei Intel passiert?"
    r"|(?:ist|war)\b[^?]*\baus\b[^?]*\bgeworden\b"  # "Was ist aus Gfycat geworden?"
    r"|(?:wurde|wird)\b[^?]*\baus\s+(?:\S+\s+){0,4}\S+\s*\?\s*$"  # "Was wurde 2023 aus Hyperloop One?"
    r"|(?:ist|war)\s+mit\s+[^?]+\?\s*$"  # "Was ist mit Twitter?"
    r"|gibt\s+es\s+neues\b)"
    # English, which the reader answers with a span cut out of a German headline ("Elon Musk [1]."
    # for "What happened to Twitter in 2022?")
    r"|^\s*(?:and\s+)?what(?:'s|\s+is|\s+was)?\s+(?:has\s+)?(?:happened|happening|going\s+on)\b"
    r"|^\s*what\s+(?:became|has\s+become)\s+of\b",
    re.IGNORECASE,
)


def asks_what_happened(question: str) -> bool:
    """True for "Was war … mit Exchange los?", "Was passierte …?", "Was wurde aus …?", "What
    happened to …?"."""
    return _WHAT_HAPPENED.search(question) is not None


_WHY = re.compile(
    r"\b(?:warum|wieso|weshalb|weswegen|wozu|aus\s+welche[mn]\s+grund|zu\s+welchem\s+zweck)\b",
    re.IGNORECASE,
)


def asks_why(question: str) -> bool:
    """True for "Warum …?", "Wieso …?", "Wozu …?", "Aus welchem Grund …?"; not "Wofür steht …?",
    which a span answers."""
    return _WHY.search(question) is not None


_NUMBER_QUESTION = re.compile(
    r"\b(?:wie\s+viel\w*|wieviel\w*|wann|in\s+welche[mn]\s+jahr\w*"
    r"|wie\s+(?:hoch|lange?|alt|oft|groß|weit|schnell|teuer|schwer|breit|tief)"
    r"|was\s+koste[nt]|welche[mnrs]?\s+(?:\w+\s+)?(?:anzahl|zahl|menge|mengen|summe|betrag|anteil"
    r"|prozentsatz|quote|rate|höhe|größe|länge|breite|tiefe|fläche|gewicht|alter|dauer|zeitraum"
    r"|entfernung|distanz|reichweite|geschwindigkeit|bandbreite|datenrate|auflösung|frequenz|spannung"
    r"|temperatur|kapazität|spurweite|umsatz|wert|datum|jahr|jahrzehnt|jahrhundert))\b",
    re.IGNORECASE,
)
_MONTH = "januar|februar|märz|april|mai|juni|juli|august|september|oktober|november|dezember"
_NUMBER = re.compile(
    r"\d|\b(?:zwei|drei|vier|fünf|sechs|sieb|neun|zehn|zwölf|zwanzig|dreißig|hundert|tausend"
    r"|million|milliard|billion|hälfte|drittel|doppel|dutzend|jahrhundert|jahrzehnt"
    r"|frühjahr|frühling|sommer|herbst|winter)"
    rf"|\b(?:{_MONTH})s?\b"  # whole words: "Mai", not "Mainz"
    r"|\b(?:acht|elf)(?:e[mnrs]?|te\w*|zehn\w*|mal)?\b",  # not "Macht", "Elfmeter"
    re.IGNORECASE,
)


def asks_for_number(question: str) -> bool:
    """True for "Wie viele …?", "Wann …?", "Seit wann …?", "In welchem Jahr …?", "Wie lange …?",
    "Was kostet …?" and "Welche <quantity> …?" ("Welche Bandbreite erreichte der Angriff?")."""
    return _NUMBER_QUESTION.search(question) is not None


def names_number(text: str) -> bool:
    """True for "2,8%", "fünf bis zehn Jahre", "das Zehnfache", "Mai 2013", "im 21. Jahrhundert"."""
    return _NUMBER.search(text) is not None


_WHEN_QUESTION = re.compile(
    r"\b(?:wann|in\s+welche[mn]\s+(?:jahr|jahrzehnt|jahrhundert|monat|zeitraum)\w*"
    r"|an\s+welchem\s+(?:tag|datum)|welches\s+datum|um\s+wie\s*viel\s+uhr)\b",
    re.IGNORECASE,
)
_TIME = re.compile(
    r"\b(?:1\d{3}|20\d{2})\b|\b\d{2,4}er\b|\b\d{1,2}\.\s?\d{1,2}\.|\b\d+\s*[vn]\.\s?chr\b"
    rf"|\b(?:{_MONTH})\b|\b(?:montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag)"
    r"|jahr|\buhr\b|frühjahr|frühling|sommer|herbst|winter|mittelalter|antike"
    r"|\b(?:heute|gestern|morgen)\b|\bära\b|epoche"
    r"|\b(?:ende|anfang|mitte|beginn)\s+de[rs]\b|\bnach\s+dem\b|\bvor\s+dem\b|\bwährend\b",
    re.IGNORECASE,
)


_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")


def without_given_numbers(text: str, question: str) -> str:
    """``text`` without the numbers the question names itself: "Wie viel kostet das iPhone 14?" is
    not answered by "14: Apple plant wohl Preiserhöhungen", nor "Wie viele Stellen strich Meta
    2022?" by "2022" (no XQuAD or heise dev reference of a number question repeats one)."""
    given = set(_DIGITS.findall(question))
    return _DIGITS.sub(lambda m: "" if m.group() in given else m.group(), text) if given else text


_NAME_QUESTION = re.compile(
    r"\b(?:wer|wen|wem|wessen)\b|\bwelche[mnrs]?\s+(?:firma|firmen|unternehmen|konzern|hersteller|bank"
    r"|person|partei|behörde|organisation|anbieter|verein|mannschaft|sender)\b",
    re.IGNORECASE,
)


def asks_for_name(question: str) -> bool:
    """True for "Wer …?", "Von wem …?", "Welche Firma …?", "Welcher Konzern …?": a person or an
    organisation is asked for, which a bare number or amount never names ("69 Milliarden
    US-Dollar" for "Welche Firma hat Activision Blizzard übernommen?" on the default index, "1946"
    for "Wer gewann 2000 die Ekstraklasa-Meisterschaft?"; no XQuAD or heise dev reference of such a
    question holds a digit)."""
    return _NAME_QUESTION.search(question) is not None


def names_no_digit(text: str) -> bool:
    """True for "Polonia Warschau", False for "1946" or "69 Milliarden US-Dollar"."""
    return not any(c.isdigit() for c in text)


def asks_when(question: str) -> bool:
    """True for "Wann …?", "Seit wann …?", "In welchem Jahr(zehnt) …?", "An welchem Tag …?"."""
    return _WHEN_QUESTION.search(question) is not None


def names_time(text: str) -> bool:
    """True for "1349", "Mai 2013", "in den 1950er Jahren", "vor 66 Millionen Jahren", "nach dem
    Krieg"; not for "13", "233" or "1,5-Grad-Grenze", which a "Wann …?" span named on the dev
    questions (a year is 1000-2099, the range of every year among XQuAD's dev references)."""
    return _TIME.search(text) is not None


_JOINED = re.compile(
    r"^(?P<first>.+?)\s*,?\s+und\s+(?P<second>(?:wann|wer|wen|wem|wessen|was|wo|wohin|woher|wie|wieso"
    r"|weshalb|warum|welch\w*|wieviel\w*)\b.*)$",
    re.IGNORECASE,
)


def split_questions(question: str) -> tuple[str, ...]:
    """The two questions of "Wann wurde Log4Shell bekannt und welche Version behebt die Lücke?" (a
    question word before and after the "und"), each ending in "?"; else the question alone.

    Why: the reader gives one span per passage, so a double question got one span for both parts
    ("Montag: Y2K22 [3]." on the default index). An elliptic second part ("Wer kaufte Twitter und
    wann?") takes the first part's words after its question word ("Wann kaufte Twitter?"). Two
    question words side by side ("Wie und wann kam …?") or a first part without a subject ("Wie
    schnell und wie teuer ist …?") ask about one thing and stay whole."""
    text = question.strip().rstrip("?").strip()
    match = _JOINED.match(text)
    if match is None or not opens_with_question_word(match["first"]):
        return (question,)
    first, second = match["first"].strip(), match["second"].strip()
    first_words, second_words = first.split(), second.split()
    if len(first_words) < 3:  # "Wie schnell und wie teuer ist …?" asks about one subject
        return (question,)
    if len(second_words) < 2:
        second = " ".join([second_words[0].capitalize(), *first_words[1:]])
    return f"{first}?", f"{second[0].upper()}{second[1:]}?"
