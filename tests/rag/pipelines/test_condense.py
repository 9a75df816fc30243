"""Follow-up condensing: the prompt the model sees, and which of its rewrites are used."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from rag.core.settings import Settings
from rag.generation import make_chat_model
from rag.pipelines.ask import MAX_QUESTION_CHARS
from rag.pipelines.condense import Turn, clean_rewrite, condense_question, format_history

HISTORY = [
    Turn(
        "Was war Anfang 2022 mit Exchange los?",
        "Ein Datumsfehler im Malware-Scanner hielt seit Neujahr E-Mails in Exchange-Warteschlangen fest [1].",
    )
]
FOLLOW_UP = "Und was hat Microsoft dagegen getan?"


def test_without_history_the_question_is_used_as_typed_and_no_model_is_called() -> None:
    model = FakeListChatModel(responses=[])  # would raise if it were called
    assert condense_question(model, [], "Was ist Log4j?").how == "typed"


def test_a_good_rewrite_is_used() -> None:
    model = FakeListChatModel(responses=["„Was hat Microsoft gegen den Exchange-Fehler getan?“\nNoch was"])
    condensed = condense_question(model, HISTORY, FOLLOW_UP)
    assert condensed.how == "rewritten"
    assert condensed.question == "Was hat Microsoft gegen den Exchange-Fehler getan?"


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
