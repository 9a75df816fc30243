"""The ask path end to end: real index (Qdrant local mode), real encoder, real local generator."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from typer.testing import CliRunner

from cli.main import app
from rag.core.answer import Answer, resolve_citations
from rag.core.settings import Settings, get_settings
from rag.pipelines.ask import AskOptions, check_question
from rag.pipelines.components import open_pipeline
from rag.retrieval.search import HybridRetriever, SearchResult

runner = CliRunner()


def test_stream_yields_tokens_then_an_answer_with_sources_filters_and_timings(ask_env: Settings) -> None:
    with open_pipeline(ask_env) as pipeline:
        pipeline.today = lambda: date(2026, 11, 27)
        events = list(pipeline.stream("Was war Anfang 2022 mit Exchange los?", AskOptions(k=2)))
    *tokens, answer = events
    assert tokens and all(isinstance(t, str) for t in tokens)
    assert isinstance(answer, Answer)
    assert answer.text == resolve_citations("".join(tokens), answer.sources)[0]
    assert [s.number for s in answer.sources] == [1]  # the date filter leaves the 2022 article only
    assert answer.sources[0].article_id == "6315605"
    assert (answer.filters.date_from, answer.filters.date_to) == (date(2022, 1, 1), date(2022, 4, 30))
    assert answer.filters.detected_text == "Anfang 2022"
    assert {"embed", "search", "generate", "first_token", "total"} <= answer.timings.keys()


def test_explicit_dates_override_the_detected_ones(ask_env: Settings) -> None:
    with open_pipeline(ask_env) as pipeline:
        answer = pipeline.ask(
            "Was war Anfang 2022?", AskOptions(date_from=date(2023, 1, 1), date_to=date(2023, 12, 31))
        )
    assert [s.article_id for s in answer.sources] == ["7000001"]
    assert answer.filters.detected_text == ""


def test_a_detected_range_without_articles_is_dropped_with_a_notice(ask_env: Settings) -> None:
    with open_pipeline(ask_env) as pipeline:
        pipeline.today = lambda: date(2026, 11, 27)
        answer = pipeline.ask("Was geschah im März 2019 mit dem Raspberry Pi?", AskOptions(k=1))
    assert [s.article_id for s in answer.sources] == ["7000001"]
    assert (answer.filters.date_from, answer.filters.detected_text) == (None, "")
    assert answer.notices == [
        "Im Zeitraum aus der Frage ('im März 2019') gibt es keine Artikel; gesucht wurde ohne Zeitfilter."
    ]


def test_the_search_leaves_out_the_date_the_filter_covers_unless_the_filter_is_dropped(
    ask_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    searched: list[str] = []
    search = HybridRetriever.search

    def recording(self: HybridRetriever, query: str, *args: Any, **kwargs: Any) -> SearchResult:
        searched.append(query)
        return search(self, query, *args, **kwargs)

    monkeypatch.setattr(HybridRetriever, "search", recording)
    with open_pipeline(ask_env) as pipeline:
        pipeline.today = lambda: date(2026, 11, 27)
        pipeline.ask("Was war Anfang 2022 mit Exchange los?", AskOptions(k=1))
        pipeline.ask("Was geschah im März 2019 mit dem Raspberry Pi?", AskOptions(k=1))
    assert searched == [
        "Was war mit Exchange los?",  # the range holds only 2022 articles: "Anfang 2022" adds nothing
        "Was geschah mit dem Raspberry Pi?",
        "Was geschah im März 2019 mit dem Raspberry Pi?",  # no article in the range: searched as asked
    ]


def test_cli_streams_and_lists_sources(ask_env: Settings) -> None:
    result = runner.invoke(app, ["ask", "Was war Anfang 2022 mit Exchange los?"])
    assert result.exit_code == 0, result.output
    assert "Quellen:" in result.output and "Exchange-Server" in result.output
    assert "Zeitraum aus der Frage ('Anfang 2022')" in result.output


def test_cli_json(ask_env: Settings) -> None:
    result = runner.invoke(
        app, ["ask", "Raspberry Pi Prozessor", "--json", "--no-date-detection", "--k", "1"]
    )
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["sources"][0]["article_id"] == "7000001" and "first_token" in answer["timings"]


def test_english_question_gets_a_notice(ask_env: Settings) -> None:
    result = runner.invoke(app, ["ask", "What is the problem with the Exchange server?"])
    assert result.exit_code == 0, result.output
    assert "Hinweis: Die Frage scheint englisch zu sein" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", "   "], "Bitte eine Frage eingeben."),
        (["ask", "Warum " * 10_000], "Die Frage ist zu lang (60000 Zeichen, höchstens 2000)."),
        (["ask", "?!? ..."], "Die Frage enthält keine Wörter."),
        (["ask", "Exchange", "--from", "2019-01-01", "--to", "2019-12-31"], "keine Artikel gefunden"),
        (["ask", "Exchange", "--mode", "fuzzy"], "unbekannter Modus 'fuzzy'"),
    ],
)
def test_bad_questions_get_a_german_message_and_a_non_zero_exit(
    ask_env: Settings, args: list[str], message: str
) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_missing_collection_is_explained(ask_env: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEISE_RAG_COLLECTION", "leer")
    get_settings.cache_clear()
    result = runner.invoke(app, ["ask", "Exchange?"])
    assert result.exit_code == 1
    assert "Die Sammlung 'leer' gibt es noch nicht" in result.output


def test_unreachable_qdrant_and_tgi_are_named(ask_env: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEISE_RAG_GENERATOR_URL", "http://127.0.0.1:9")
    get_settings.cache_clear()
    tgi = runner.invoke(app, ["ask", "Exchange?", "--backend", "tgi"])
    assert tgi.exit_code == 1 and "http://127.0.0.1:9" in tgi.output and "nicht erreichbar" in tgi.output
    monkeypatch.setenv("HEISE_RAG_QDRANT_URL", "http://127.0.0.1:9")
    get_settings.cache_clear()
    qdrant = runner.invoke(app, ["ask", "Exchange?"])
    assert qdrant.exit_code == 1 and "Qdrant unter http://127.0.0.1:9 ist nicht erreichbar" in qdrant.output


def test_a_short_english_question_is_noticed_by_its_opening_question_word() -> None:
    notice = ["Die Frage scheint englisch zu sein; die Quellen und die Antwort sind deutsch."]
    assert check_question("Which company bought Activision Blizzard?") == notice
    assert check_question("Was kostet Netflix?") == []  # "was" is German here as well
    assert check_question("Wie teuer ist das iPhone 15?") == []
