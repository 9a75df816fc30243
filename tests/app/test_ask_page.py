"""The ask page in Streamlit's headless AppTest: a real index, real encoder, real (tiny) LLM."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from qdrant_client import QdrantClient
from streamlit.testing.v1 import AppTest

from app.chat import BACKEND_LABELS, MODE_LABELS
from rag.core.modes import MODES
from rag.core.settings import Settings, get_settings
from rag.generation import BACKENDS

QUESTION = "Was war Anfang 2022 mit Exchange los?"
LOG4J = "Welche Sicherheitslücke in Log4j wurde Ende 2021 bekannt und wie gefährlich war sie?"


def ask(page: AppTest, question: str) -> AppTest:
    page.chat_input[0].set_value(question).run()
    assert not page.exception, page.exception
    return page


def texts(page: AppTest) -> list[str]:
    return [m.value for m in page.markdown]


def shown(markdown: str) -> str:
    """What a reader sees of Markdown written by `plain()`: the text without its escapes."""
    return re.sub(r"\\(.)", r"\1", markdown)


def errors(page: AppTest) -> list[str]:
    return [shown(e.value) for e in page.error]


def infos(page: AppTest) -> list[str]:
    return [shown(i.value) for i in page.info]


def test_question_gets_a_streamed_answer_with_source_cards_chip_timings_and_feedback(
    app_env: Settings, app: Callable[[str], AppTest]
) -> None:
    page = ask(app("ask"), QUESTION)
    assert not page.error
    assert any("Exchange\\-Server\\: Jahr\\-2022\\-Fehler" in t for t in texts(page))  # a source card
    assert page.chat_message[1].name == "assistant"
    chip = next(b for b in page.button if b.label.startswith("Zeitraum"))
    assert chip.label == "Zeitraum 01.01.2022 – 30.04.2022 (aus „Anfang 2022“)"  # noqa: RUF001
    assert [e.label for e in page.expander][-1] == "Zeiten je Schritt"
    stages = list(page.dataframe[-1].value["Schritt"])
    assert {"Frage einbetten", "Suche in Qdrant", "Antwort erzeugen"} <= set(stages)

    page.feedback[0].set_value(1).run()
    [record] = [json.loads(line) for line in app_env.resolved_feedback_path.read_text().splitlines()]
    assert record["rating"] == "up" and record["question"] == QUESTION
    assert record["sources"][0]["article_id"] == "6315605" and record["answer"]

    chip.click().run()  # removing the date filter asks again without it: every article may come back
    assert not page.exception
    assert not any(b.label.startswith("Zeitraum") for b in page.button)
    assert any("Raspberry Pi 5" in t for t in texts(page))


def test_article_markup_is_shown_as_text(app_env: Settings, app: Callable[[str], AppTest]) -> None:
    page = ask(app("ask"), "Welche Browser-Lücke in Chromium wurde geschlossen?")
    card = [t for t in texts(page) if "xss" in t]  # the card's title and passage
    assert len(card) == 2
    assert all("\\<script\\>" in t and "\\<img" in t for t in card)
    assert not [t for t in card if re.search(r"(?<!\\)[<>\[\]]", t)]  # no markup left unescaped
    assert not [b for b in page.get("link_button") if "javascript" in str(b.proto.url)]


def test_follow_up_is_rewritten_with_the_history(app_env: Settings, app: Callable[[str], AppTest]) -> None:
    page = ask(ask(app("ask"), QUESTION), "Und was hat Microsoft dagegen getan?")
    assert len(page.chat_message) == 4
    stages = list(page.dataframe[-1].value["Schritt"])
    assert "Folgefrage umformulieren" in stages
    assert [n for n in infos(page) if n.startswith("Als Folgefrage verstanden und ")]


def test_a_new_question_after_an_answer_is_searched_alone_with_its_own_dates(
    app_env: Settings, app: Callable[[str], AppTest]
) -> None:
    """The reported bug: the Log4j question was searched together with the Exchange question and
    kept its "Anfang 2022"; now it is searched as typed, for its own "Ende 2021"."""
    page = ask(ask(app("ask"), QUESTION), LOG4J)
    assert len(page.chat_message) == 4 and not page.error
    assert "Folgefrage umformulieren" not in list(page.dataframe[-1].value["Schritt"])
    assert not [n for n in infos(page) if "Folgefrage" in n]
    assert (
        "Im Zeitraum aus der Frage ('Ende 2021') gibt es keine Artikel; gesucht wurde ohne Zeitfilter."
        in (infos(page))
    )
    chips = [b.label for b in page.button if b.label.startswith("Zeitraum")]
    assert chips == ["Zeitraum 01.01.2022 – 30.04.2022 (aus „Anfang 2022“)"]  # noqa: RUF001 - the first answer's


@pytest.mark.parametrize(
    ("question", "message"),
    [("   ", "Bitte eine Frage eingeben."), ("Warum " * 500, "Die Frage ist zu lang (3000 Zeichen")],
)
def test_bad_questions_get_a_german_message(
    app_env: Settings, app: Callable[[str], AppTest], question: str, message: str
) -> None:
    page = ask(app("ask"), question)
    assert message in errors(page)[0]


def test_unreachable_generator_is_explained_and_the_chat_stays_usable(
    app_env: Settings, app: Callable[[str], AppTest], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEISE_RAG_GENERATOR_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("HEISE_RAG_GENERATOR_RETRIES", "0")
    get_settings.cache_clear()
    page = app("ask")
    backend = next(s for s in page.selectbox if s.label == "Antwort-Backend")
    backend.set_value("tgi").run()
    ask(page, QUESTION)
    assert "Der Generator-Server unter http://127.0.0.1:9 ist nicht erreichbar" in errors(page)[0]
    next(s for s in page.selectbox if s.label == "Antwort-Backend").set_value("local").run()
    ask(page, QUESTION)
    assert len(page.error) == 1 and len(page.chat_message) == 4


def test_unreachable_qdrant_server_is_explained(
    app_env: Settings, app: Callable[[str], AppTest], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEISE_RAG_QDRANT_URL", "http://127.0.0.1:9")
    get_settings.cache_clear()
    page = ask(app("ask"), QUESTION)
    assert "Der Qdrant-Server unter http://127.0.0.1:9 ist nicht erreichbar" in errors(page)[0]


def test_index_locked_by_another_process_is_explained(
    app_env: Settings, app: Callable[[str], AppTest]
) -> None:
    other = QdrantClient(path=app_env.resolved_qdrant_path)
    try:
        page = ask(app("ask"), QUESTION)
    finally:
        other.close()
    assert "von einem anderen Prozess benutzt" in errors(page)[0]


def test_sidebar_choices_match_the_library() -> None:
    """The page names modes and backends without importing the model stack; they must not drift."""
    assert set(MODE_LABELS) == set(MODES)
    assert set(BACKEND_LABELS) == set(BACKENDS)


def test_a_question_waiting_for_the_busy_model_says_so_then_gets_its_answer(app_env: Settings) -> None:
    """Two sessions share one in-process model: the second one's page shows that it waits."""
    import threading
    import time

    from app import resources
    from app.chat import WAITING_FOR_MODEL, ChatEntry, run_entry

    engine = resources.chat_model("local").warm_up()  # the engine every session shares
    entry = ChatEntry(question=QUESTION, options={"k": 2, "rerank": False}, backend="local")
    stages: list[str] = []
    tokens: list[str] = []
    asker = threading.Thread(target=lambda: tokens.extend(run_entry(entry, [], stages.append)))
    with engine.lock:  # the other session's answer is being generated
        asker.start()
        deadline = time.monotonic() + 120
        while WAITING_FOR_MODEL not in stages and asker.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert stages[-1] == WAITING_FOR_MODEL
    asker.join(timeout=120)
    assert entry.answer is not None and "".join(tokens)


def test_a_question_asked_before_the_index_has_chunks_waits_and_says_so(
    app_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Asked in the first seconds of `make run`: the page says it waits for the index, not "empty"."""
    import threading

    from app import chat, resources
    from app.chat import WAITING_FOR_INDEX, ChatEntry, run_entry
    from app.index_build import DefaultIndexBuild

    monkeypatch.setenv("HEISE_RAG_COLLECTION", "default-index-not-built-yet")
    get_settings.cache_clear()
    monkeypatch.setattr(chat, "FIRST_CHUNKS_TIMEOUT_S", 0.5)
    build = DefaultIndexBuild()
    monkeypatch.setattr(resources, "default_index_build", lambda: build)
    opened = threading.Event()

    def open_store() -> None:  # the build is still checking the store when the question comes
        opened.wait(60)
        raise RuntimeError("stopped by the test")

    assert build.start(get_settings(), open_store, resources.embedder)  # type: ignore[arg-type]
    stages: list[str] = []
    entry = ChatEntry(question=QUESTION, options={"k": 2, "rerank": False}, backend="local")
    try:
        with pytest.raises(resources.AppError, match="noch keinen Artikel"):
            list(run_entry(entry, [], stages.append))
        assert WAITING_FOR_INDEX in stages
    finally:
        opened.set()
