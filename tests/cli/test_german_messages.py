"""No English line reaches a user of the command line on an error path.

What is walked: every command that ``cli.main.app`` registers (found through
``typer.main.get_command``, so a new command is walked without editing this file) with an
unknown option, without its required arguments and options, and with a value of the wrong type
for each of its number and date options; then the library's error paths that users meet most:
a store locked by another process, an unknown collection, a headline CSV with a broken line,
a model cache without the model, bad gate and question-set options of the eval commands, an
unknown model name and a bad adapter list of ``serve tgi``. Every command's and every group's
``--help`` page is walked the same way.

How a line is judged: it fails when it holds one of ``ENGLISH_MARKERS`` as a word, after the
parts that are not prose are removed: text in backticks (commands, codes, quoted tool output),
quoted values ('--k', 'nope'), paths and URLs, option names and the usage line's upper-case
placeholders. Every marker is a word that German error text never uses, so the check is strict
about prose without failing on names a user typed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cli.main import app
from ingest.sources.headlines import read_headlines
from rag.core.settings import get_settings

ENGLISH_MARKERS = (
    "error",
    "invalid",
    "missing",
    "usage",
    "no such",
    "not found",
    "does not exist",
    "failed",
    "expected",
    "unknown",
    "cannot",
    "should",
    "must",
    "required",
    "try",
    "command",
    "value",
    "is not",
    "unable",
    "refused",
    "found",
    "the",
    "please",
    "empty",
)
_NOT_PROSE = re.compile(
    r"`[^`]*`"  # code, commands, quoted tool output
    r"|'[^']*'|\"[^\"]*\""  # quoted values and names
    r"|\S*/\S*"  # paths and URLs
    r"|--?[\w-]+"  # option names
    r"|\b[A-Z_]{2,}\b"  # placeholders and environment variables
)
_MARKER = re.compile(r"\b(?:" + "|".join(re.escape(m) for m in ENGLISH_MARKERS) + r")\b", re.IGNORECASE)


def english_lines(output: str) -> list[str]:
    """The lines of ``output`` that read as English prose."""
    return [line for line in output.splitlines() if _MARKER.search(_NOT_PROSE.sub(" ", line))]


def commands(
    command: typer.core.TyperGroup | object, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], object]]:
    """Every leaf command of the tree with the words that call it."""
    children = getattr(command, "commands", None)
    if children is None:
        yield path, command
        return
    for name, child in children.items():
        yield from commands(child, (*path, name))


def groups(command: typer.core.TyperGroup | object, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The words that call every group of the tree, the root's () included."""
    children = getattr(command, "commands", None)
    if children is None:
        return
    yield path
    for name, child in children.items():
        yield from groups(child, (*path, name))


ROOT = typer.main.get_command(app)
LEAVES = list(commands(ROOT))
HELP_PAGES = [*groups(ROOT), *(path for path, _ in LEAVES)]


def error_invocations() -> Iterator[tuple[str, list[str]]]:
    """(id, arguments) per error path of every command: unknown option, nothing given, bad values."""
    yield "unknown-command", ["gibt-es-nicht"]
    yield "unknown-root-option", ["--gibt-es-nicht"]
    for path, command in LEAVES:
        name = " ".join(path)
        yield f"{name}: unknown option", [*path, "--gibt-es-nicht"]
        params = getattr(command, "params", [])
        if any(p.required for p in params):
            yield f"{name}: missing", list(path)
        for param in params:
            kind = getattr(getattr(param, "type_descriptor", None), "annotation", None)
            opt = next((o for o in getattr(param, "opts", []) if o.startswith("--")), None)
            if opt and kind in (int, float, int | None, float | None):
                yield f"{name}: {opt} not a number", [*path, opt, "zehn"]
            if opt and getattr(getattr(param, "type_descriptor", None), "is_datetime", False):
                yield f"{name}: {opt} not a date", [*path, opt, "gestern"]


@pytest.mark.parametrize(
    ("case", "args"), list(error_invocations()), ids=lambda v: v if isinstance(v, str) else ""
)
def test_parser_errors_of_every_command_are_german(case: str, args: list[str]) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, (case, result.output)
    assert "Fehler: " in result.output
    assert english_lines(result.output) == [], (case, result.output)


@pytest.mark.parametrize("path", HELP_PAGES, ids=lambda p: " ".join(p) or "heise-rag")
def test_help_of_every_command_and_group_is_german(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "Aufruf: " in result.output and "Optionen" in result.output, result.output
    assert english_lines(result.output) == [], (path, result.output)


def test_the_walk_reaches_every_command() -> None:
    names = {" ".join(path) for path, _ in LEAVES}
    assert {"ask", "ingest", "index stats", "eval retrieval", "serve tgi", "train reranker"} <= names


@pytest.mark.usefixtures("isolated_env")
def test_locked_store_and_unknown_collection_are_german() -> None:
    from rag.store.vector_store import open_client

    for command in ("stats", "reembed", "reweight-sparse"):
        missing = CliRunner().invoke(app, ["index", command, "--collection", "gibt-es-nicht"])
        assert missing.exit_code == 1 and english_lines(missing.output) == [], missing.output
        assert "gibt es nicht" in missing.output
    holder = open_client(get_settings())
    try:
        locked = CliRunner().invoke(app, ["index", "stats"])
    finally:
        holder.close()
    assert locked.exit_code == 1 and "anderen Prozess" in locked.output
    assert english_lines(locked.output) == [], locked.output


def test_reader_calibration_on_an_unknown_collection_is_german_and_writes_nothing() -> None:
    settings = get_settings()
    readers = [settings.reader_model, settings.reader_passage_model]
    assert None not in readers
    before = [(reader / "reader.json").read_text(encoding="utf-8") for reader in readers if reader]
    result = CliRunner().invoke(app, ["train", "reader-calibration", "--collection", "gibt-es-nicht"])
    assert result.exit_code == 1 and "gibt es noch nicht" in result.output, result.output
    assert english_lines(result.output) == [], result.output
    assert [(reader / "reader.json").read_text(encoding="utf-8") for reader in readers if reader] == before


@pytest.mark.usefixtures("isolated_env")
def test_model_not_provisioned_is_german(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HEISE_RAG_MODEL_CACHE_DIR", str(tmp_path / "leer"))
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["ingest", "jsonl", str(tmp_path / "fehlt.jsonl")])
    assert result.exit_code == 1 and "models provision" in result.output, result.output
    assert english_lines(result.output) == [], result.output


def test_skip_reasons_of_a_bad_csv_are_german(tmp_path: Path) -> None:
    path = tmp_path / "kaputt.csv"
    path.write_text(
        'id,headline,comments,time\n1,"offen,3,2022-01-01\nabc,Titel,viele,gestern\n', encoding="utf-8"
    )
    reasons = [item.reason for item in read_headlines(path)]
    assert len(reasons) == 2 and english_lines("\n".join(reasons)) == [], reasons


@pytest.mark.parametrize("command", ["retrieval", "answers"])
def test_eval_option_errors_are_german(command: str, tmp_path: Path) -> None:
    base = ["eval", command, "--collection", "probe", "--output", str(tmp_path / "bericht")]
    for extra in (["--fail-under", "mrr@10"], []):  # a gate without value; no question set
        result = CliRunner().invoke(app, [*base, *extra])
        assert result.exit_code == 2 and "Fehler: " in result.output, (extra, result.output)
        assert english_lines(result.output) == [], (extra, result.output)


def test_unknown_model_name_is_german(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HEISE_RAG_MODEL_CACHE_DIR", str(tmp_path / "cache"))
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["models", "provision", "--name", "gpt-17"])
    get_settings.cache_clear()
    assert result.exit_code == 1 and "gpt-17" in result.output, result.output
    assert english_lines(result.output) == [], result.output


def test_bad_lora_adapters_are_german() -> None:
    result = CliRunner().invoke(app, ["serve", "tgi", "--lora-adapters", "ohne-pfad="])
    assert result.exit_code == 1 and "--lora-adapters" in result.output, result.output
    assert english_lines(result.output) == [], result.output
