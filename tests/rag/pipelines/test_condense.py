"""Follow-up condensing: which questions are follow-ups, the prompt the model sees, and which of its
rewrites are used."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from rag.core.settings import Settings
from rag.core.timefilter import detect_date_filter
from rag.generation import make_chat_model
from rag.pipelines.ask import MAX_QUESTION_CHARS
from rag.pipelines.condense import Turn, clean_rewrite, condense_question, format_history, needs_context

HISTORY = [
    Turn(
        "Was war Anfang 2022 mit Exchange los?",
        "Ein Datumsfehler im Malware-Scanner hielt seit Neujahr E-Mails in Exchange-Warteschlangen fest [1].",
    )
]
FOLLOW_UP = "Und was hat Microsoft dagegen getan?"
LOG4J = "Welche Sicherheitslücke in Log4j wurde Ende 2021 bekannt und wie gefährlich war sie?"

FOLLOW_UPS = [
    FOLLOW_UP,
    "Und bei Apple?",  # a continuation
    "Was passierte danach?",  # a pronominal adverb
    "Und was passierte danach?",
    "Wie teuer ist er?",  # a pronoun
    "Was hat Microsoft dagegen getan?",  # "dagegen" points back even though Microsoft is named
    "Wer war davon betroffen?",
    "Wann kommt sie in den Handel?",
    "Wann kommt es in den Handel?",
    "Wie gefährlich war diese Lücke?",  # a demonstrative
    "Wie hoch ist ihr Marktanteil?",  # a possessive with nothing before it
    "Was ist mit Apple?",  # elliptic
    "Wie sieht es bei Google aus?",
    "Bei Apple?",
    "Wie reagierte der Hersteller?",  # no subject of its own
    "Was kostet das?",
    "Was geschah Ende 2021?",  # a time is no subject
    "was kostet das",  # typed in lower case
]
STANDALONE = [
    LOG4J,  # "sie" refers to the Log4j gap named in the clause before
    "Welche Sicherheitslücke in Log4j wurde Ende 2021 bekannt?",
    "Was war Anfang 2022 mit Exchange los?",
    "Was hat die EU 2023 zum Digital Markets Act beschlossen?",
    "Wann kommt der Raspberry Pi 5 in den Handel?",
    "Wie teuer ist das neue iPhone 15?",  # "das" is an article here
    "Welche Browser-Lücke in Chromium wurde geschlossen?",
    "Wie schützt Apple seine Nutzer?",  # the possessive points at Apple
    "Können Sie mir sagen, was Microsoft gegen Emotet unternommen hat?",  # the polite "Sie"
    "Gibt es neue Angriffe auf Exchange-Server?",  # "es" in "gibt es" is no pronoun
    "Was ist mit Log4j passiert?",
    "was hat microsoft gegen emotet getan",  # typed in lower case
]


@pytest.mark.parametrize("question", FOLLOW_UPS)
def test_a_question_that_points_back_needs_the_history(question: str) -> None:
    assert needs_context(question, HISTORY)


@pytest.mark.parametrize("question", STANDALONE)
def test_a_question_with_its_own_subject_stands_alone(question: str) -> None:
    assert not needs_context(question, HISTORY)


def test_without_history_nothing_is_a_follow_up() -> None:
    assert not needs_context("Wie teuer ist er?", [])


def test_without_history_the_question_is_used_as_typed_and_no_model_is_called() -> None:
    model = FakeListChatModel(responses=[])  # would raise if it were called
    assert condense_question(model, [], "Was ist Log4j?").how == "typed"


def test_a_question_that_stands_alone_is_searched_alone_with_its_own_dates() -> None:
    """The reported bug: the Log4j question was searched with the Exchange question and its
    "Anfang 2022"; now the model is not even called and only "Ende 2021" is read as a date."""
    model = FakeListChatModel(responses=[])  # would raise if it were called
    condensed = condense_question(model, HISTORY, LOG4J)
    assert (condensed.question, condensed.how, condensed.notices) == (LOG4J, "typed", ())
    detected = detect_date_filter(condensed.question, date(2026, 11, 27))
    assert detected is not None and detected.text == "Ende 2021"


def test_a_good_rewrite_is_used() -> None:
    model = FakeListChatModel(responses=["„Was hat Microsoft gegen den Exchange-Fehler getan?“\nNoch was"])
    condensed = condense_question(model, HISTORY, FOLLOW_UP)
    assert condensed.how == "rewritten"
    assert condensed.question == "Was hat Microsoft gegen den Exchange-Fehler getan?"
    assert condensed.notices == (
        "Als Folgefrage verstanden und mit dem Verlauf umformuliert: "
        "„Was hat Microsoft gegen den Exchange-Fehler getan?“",
    )


@pytest.mark.parametrize(
    "reply",
    [
        "",  # nothing
        "?!",  # no words
        "Was hat Microsoft dagegen getan?",  # an echo of the follow-up
        "Was war Anfang 2022 mit Exchange los?",  # the previous question: the follow-up is lost
        "Wie funktioniert der Exchange-Malware-Scanner?",  # Microsoft's action is lost
        "Microsoft hat " + "ein Skript veröffentlicht, " * 20,  # an answer, not a question
    ],
)
def test_an_unusable_rewrite_joins_the_previous_question(reply: str) -> None:
    condensed = condense_question(FakeListChatModel(responses=[reply]), HISTORY, FOLLOW_UP)
    assert condensed.how == "joined"
    assert condensed.question == f"{HISTORY[0].question} {FOLLOW_UP}"
    assert condensed.notices == (
        f"Als Folgefrage verstanden und zusammen mit der vorigen Frage gesucht: „{condensed.question}“",
    )


def test_joining_respects_the_question_limit() -> None:
    long_turn = [Turn("Exchange " * 400, "Antwort")]
    condensed = condense_question(FakeListChatModel(responses=[""]), long_turn, FOLLOW_UP)
    assert len(condensed.question) <= MAX_QUESTION_CHARS and condensed.question.endswith(FOLLOW_UP)


def test_history_keeps_the_last_turns_and_cuts_long_answers() -> None:
    turns = [Turn(f"Frage {i}", "Wort " * 200) for i in range(5)]
    text = format_history(turns)
    assert text.count("Nutzer:") == 3 and text.startswith("Nutzer: Frage 2")
    assert all(len(line) < 260 for line in text.splitlines()) and text.endswith("…")


def test_prefixes_and_quotes_are_removed() -> None:
    rewrite = clean_rewrite("Eigenständige Frage: 'Was tat Microsoft?'", "Was tat er?", [])
    assert rewrite == "Was tat Microsoft?"


def test_a_real_chat_model_is_called_with_the_prompt(provisioned: Callable[[str], Path]) -> None:
    """The tiny random model writes nonsense, so only the wiring is checked: it runs, and the result
    is either a rewrite that passed the checks or the joined question."""
    provisioned("tiny-random-llama")
    model = make_chat_model(Settings(_env_file=None, generator_model="tiny-random-llama"))
    condensed = condense_question(model, HISTORY, FOLLOW_UP)
    assert condensed.seconds > 0
    assert condensed.how == "rewritten" or condensed.question == f"{HISTORY[0].question} {FOLLOW_UP}"
