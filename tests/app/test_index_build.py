"""The app's background build of the default index: real files, the real embedded store, the small encoder."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from app.index_build import BuildProgress, DefaultIndexBuild
from rag.core.datafiles import GNAD_FILE, HEADLINES_FILE
from rag.core.settings import Settings, get_settings
from rag.models.embeddings import Embedder
from rag.store.shared_client import SharedClient
from rag.store.vector_store import VectorStore, open_client


@pytest.fixture
def tiny_data(
    isolated_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
    provisioned: Callable[[str], Path],
) -> Path:
    """A data folder with the first 40 heise headlines and 3 10kGNAD articles; the small encoder."""
    provisioned("all-minilm-l6-v2")
    data = isolated_env / "data"
    (data / HEADLINES_FILE).parent.mkdir(parents=True)
    (data / GNAD_FILE).parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(settings.resolved_data_dir / HEADLINES_FILE, "rt", encoding="utf-8") as full:
        head = [next(full) for _ in range(41)]
    with gzip.open(data / HEADLINES_FILE, "wt", encoding="utf-8") as out:
        out.writelines(head)
    with (settings.resolved_data_dir / GNAD_FILE).open(encoding="utf-8") as full:
        (data / GNAD_FILE).write_text("".join(next(full) for _ in range(3)), encoding="utf-8")
    monkeypatch.setenv("HEISE_RAG_EMBEDDING_MODEL", "all-minilm-l6-v2")
    monkeypatch.setenv("HEISE_RAG_DATA_DIR", str(data))
    get_settings.cache_clear()
    return data


def finish(build: DefaultIndexBuild, timeout: float = 120.0) -> BuildProgress:
    deadline = time.monotonic() + timeout
    while build.running():
        assert time.monotonic() < deadline, "the background build did not end"
        time.sleep(0.05)
    progress = build.progress()
    assert progress is not None
    return progress


def run_build(settings: Settings) -> BuildProgress:
    """One build through a shared client, as the app runs it; the client is closed afterwards."""
    client = SharedClient(open_client(settings))
    embedder = Embedder.from_settings(settings)
    try:
        build = DefaultIndexBuild()
        assert build.start(settings, lambda: VectorStore(client, settings.collection), lambda: embedder)
        assert not build.start(settings, lambda: VectorStore(client, settings.collection), lambda: embedder)
        return finish(build)
    finally:
        client.close()


def test_the_build_fills_the_store_reports_progress_and_is_not_needed_twice(tiny_data: Path) -> None:
    settings = get_settings()
    progress = run_build(settings)
    assert progress.error is None and progress.state == "done" and progress.needed
    assert progress.finished == ("headlines", "10kgnad")
    assert progress.chunks >= 43  # 40 headlines, 3 articles of one chunk or more
    client = open_client(settings)
    try:
        store = VectorStore(client, settings.collection)
        assert store.metadata()["complete_sources"] == ["10kgnad", "headlines"]
        assert store.count() == progress.chunks
    finally:
        client.close()

    again = run_build(settings)  # the next app start only reads the record
    assert again.state == "done" and not again.needed and again.chunks == 0


def test_waiting_for_the_first_chunks_ends_once_the_store_holds_them(tiny_data: Path) -> None:
    """A question asked before the first batch is embedded waits for it (app/chat.py)."""
    settings = get_settings()
    client = SharedClient(open_client(settings))
    embedder = Embedder.from_settings(settings)
    loaded = threading.Event()

    def load_embedder() -> Embedder:  # the encoder still loading, as on a fresh start
        assert loaded.wait(60)
        return embedder

    try:
        store = VectorStore(client, settings.collection)
        build = DefaultIndexBuild()
        assert build.start(settings, lambda: store, load_embedder)
        assert not build.wait_for_chunks(0.3)  # nothing embedded yet: the wait times out
        assert build.running() and (not store.exists() or store.count() == 0)
        loaded.set()
        assert build.wait_for_chunks(60)
        assert store.count() > 0  # a search now finds something
        assert finish(build).state == "done"
        assert DefaultIndexBuild().wait_for_chunks(0)  # no build in this process: nothing to wait for
    finally:
        loaded.set()
        client.close()


def test_a_failed_build_keeps_its_error_for_the_pages(tiny_data: Path) -> None:
    (tiny_data / HEADLINES_FILE).unlink()
    progress = run_build(get_settings())
    assert progress.state == "failed" and progress.needed
    assert progress.error is not None and progress.ended is not None


def test_progress_lines_are_german_and_count_with_dots() -> None:
    running = BuildProgress(
        state="running", needed=True, source="10kgnad", articles=1200, total=10273, chunks=45123,
        finished=("headlines",),
    )  # fmt: skip
    assert running.line() == (
        "Der Standardindex wird im Hintergrund aufgebaut: heise-Schlagzeilen fertig; 10kGNAD "
        "1.200 von 10.273 Artikel gelesen, 45.123 Abschnitte eingebettet."
    )
    assert running.fraction == pytest.approx(1200 / 10273)
    assert "45.123 Abschnitte bisher" in running.answer_notice()
    counting = BuildProgress(state="running", needed=True, source="headlines", articles=10)
    assert counting.fraction is None and "10 Artikel gelesen" in counting.line()
    assert BuildProgress(state="checking").line() == "Der Standardindex wird geprüft …"
