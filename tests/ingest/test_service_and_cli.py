"""Ingest through the CLI and the first-run default index, on real files and real Qdrant local mode."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from ingest.service import ensure_default_index
from ingest.sources.jsonl import write_jsonl
from rag.core.datafiles import GNAD_FILE, HEADLINES_FILE
from rag.core.domain import Article
from rag.core.settings import Settings, get_settings

runner = CliRunner()


@pytest.fixture
def small_env(
    isolated_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
    provisioned: Callable[[str], Path],
) -> Path:
    """Settings on a temporary store and data folder, with the small test encoder."""
    provisioned("all-minilm-l6-v2")
    monkeypatch.setenv("HEISE_RAG_EMBEDDING_MODEL", "all-minilm-l6-v2")
    monkeypatch.setenv("HEISE_RAG_DATA_DIR", str(isolated_env / "data"))
    get_settings.cache_clear()
    return isolated_env


def test_cli_ingest_reports_and_stats_show_the_collection(small_env: Path) -> None:
    articles = [
        Article(
            id=str(i),
            title=f"Meldung {i} über Glasfaser",
            body="Der Ausbau geht voran. " * 80,
            source="heise",
        )
        for i in range(5)
    ]
    path = small_env / "articles.jsonl"
    write_jsonl(articles, path)
    with path.open("a", encoding="utf-8") as out:
        out.write("{kein json\n")
    result = runner.invoke(app, ["ingest", "jsonl", str(path), "--collection", "probe"])
    assert result.exit_code == 0, result.output
    assert "5 neu, 0 aktualisiert, 0 unverändert, 1 übersprungen" in result.output
    assert f"übersprungen {path}:6" in result.output

    again = runner.invoke(app, ["ingest", "jsonl", str(path), "--collection", "probe"])
    assert "0 neu, 0 aktualisiert, 5 unverändert" in again.output

    stats = runner.invoke(app, ["index", "stats", "--collection", "probe"])
    assert stats.exit_code == 0, stats.output
    lines = dict(line.split(None, 1) for line in stats.output.splitlines())
    assert lines["Artikel"].strip() == "5" and lines["Quellen"].strip() == "heise (5)"
    assert int(lines["Punkte"]) > 5


def test_cli_reports_implausible_dates_and_stats_count_them(
    small_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dates = {"1": datetime(1, 1, 1, tzinfo=UTC), "2": datetime(2023, 5, 4, tzinfo=UTC)}
    dates["3"] = datetime(2099, 12, 31, tzinfo=UTC)
    path = small_env / "articles.jsonl"
    write_jsonl(
        [Article(id=i, title=f"Meldung {i}", published_at=d, source="heise") for i, d in dates.items()], path
    )
    result = runner.invoke(app, ["ingest", "jsonl", str(path), "--collection", "probe"])
    assert result.exit_code == 0, result.output
    assert "3 neu, 0 aktualisiert, 0 unverändert, 0 übersprungen, 2 mit unplausiblem Datum" in result.output
    future = "Datum unplausibel heise:3: unplausibles Erscheinungsdatum 2099-12-31: in der Zukunft"
    assert future in result.output

    stats = runner.invoke(app, ["index", "stats", "--collection", "probe"])
    lines = dict(line.split(None, 1) for line in stats.output.splitlines() if not line.startswith("unpl"))
    assert lines["Zeitraum"].strip() == "2023-05-04 .. 2023-05-04"  # not 1-01-01 .. 2099-12-31
    assert "unplausible Daten  2 (vor 1995 oder in der Zukunft" in stats.output

    monkeypatch.setenv("HEISE_RAG_IMPLAUSIBLE_DATES", "skip")
    get_settings.cache_clear()
    skipped = runner.invoke(app, ["ingest", "jsonl", str(path), "--collection", "fresh"])
    assert "1 neu, 0 aktualisiert, 0 unverändert, 2 übersprungen" in skipped.output
    assert "übersprungen heise:1: unplausibles Erscheinungsdatum 0001-01-01: vor 1995" in skipped.output


def test_cli_ingest_of_an_unreadable_file_fails_with_the_reason(small_env: Path) -> None:
    result = runner.invoke(app, ["ingest", "jsonl", str(small_env / "fehlt.jsonl")])
    assert result.exit_code == 1
    assert "fehlt.jsonl" in result.output and "übersprungen" in result.output


def test_cli_rejects_unknown_source(small_env: Path) -> None:
    result = runner.invoke(app, ["ingest", "fax"])
    assert result.exit_code == 1
    assert "unbekannte Quelle 'fax'" in result.output


def test_default_index_is_built_once_and_resumes(small_env: Path, settings: Settings) -> None:
    data = small_env / "data"
    (data / HEADLINES_FILE).parent.mkdir(parents=True)
    (data / GNAD_FILE).parent.mkdir(parents=True)
    with gzip.open(settings.resolved_data_dir / HEADLINES_FILE, "rt", encoding="utf-8") as full:
        head = [next(full) for _ in range(41)]
    with gzip.open(data / HEADLINES_FILE, "wt", encoding="utf-8") as out:
        out.writelines(head)
    with (settings.resolved_data_dir / GNAD_FILE).open(encoding="utf-8") as full:
        (data / GNAD_FILE).write_text("".join(next(full) for _ in range(3)), encoding="utf-8")

    seen: list[str] = []
    reports = ensure_default_index(get_settings(), lambda name, a, c: seen.append(name))
    assert [(r.new, len(r.skipped)) for r in reports] == [(40, 0), (3, 0)]
    assert set(seen) == {"headlines", "10kgnad"}
    assert ensure_default_index(get_settings()) == []
