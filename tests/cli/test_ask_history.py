"""`heise-rag ask --history`: the CLI's conversation, condensed like the app's chat (real index,
real encoder, the tiny random LLM)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cli.main import app
from rag.core.settings import Settings

runner = CliRunner()
FOLLOW_UP_NOTICE = "Hinweis: Als Folgefrage verstanden und "


def sources(output: str) -> list[str]:
    """The source lines the command lists after its answer."""
    return output.split("\nQuellen:\n", 1)[1].splitlines()


def test_a_conversation_condenses_only_the_follow_up(ask_env: Settings, tmp_path: Path) -> None:
    path = tmp_path / "gespräch.json"
    first = runner.invoke(app, ["ask", "Was war Anfang 2022 mit Exchange los?", "--history", str(path)])
    assert first.exit_code == 0, first.output
    assert FOLLOW_UP_NOTICE not in first.output
    assert [t["question"] for t in json.loads(path.read_text())] == ["Was war Anfang 2022 mit Exchange los?"]

    follow_up = runner.invoke(app, ["ask", "Und was hat Microsoft dagegen getan?", "--history", str(path)])
    assert follow_up.exit_code == 0, follow_up.output
    assert FOLLOW_UP_NOTICE in follow_up.output
    assert len(json.loads(path.read_text())) == 2

    # A question with its own subject: searched alone, for its own "Ende 2023", not the first
    # question's "Anfang 2022", so the Raspberry Pi article is the only source.
    new = runner.invoke(app, ["ask", "Was kam Ende 2023 zum Raspberry Pi 5 heraus?", "--history", str(path)])
    assert new.exit_code == 0, new.output
    assert FOLLOW_UP_NOTICE not in new.output
    assert "Zeitraum aus der Frage ('Ende 2023')" in new.output
    assert ["Raspberry Pi 5 kommt" in line for line in sources(new.output)] == [True]
    turns = json.loads(path.read_text())
    assert turns[-1]["question"] == "Was kam Ende 2023 zum Raspberry Pi 5 heraus?" and turns[-1]["answer"]


def test_a_broken_history_file_is_a_german_error(isolated_env: Path) -> None:
    path = isolated_env / "verlauf.json"
    path.write_text('{"kaputt":', encoding="utf-8")
    result = runner.invoke(app, ["ask", "Und bei Apple?", "--history", str(path)])
    assert result.exit_code == 1
    assert "ist kein Gesprächsverlauf" in result.output
