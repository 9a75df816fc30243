"""A small real index for the app's tests: the small English encoder, the tiny random LLM.

Why these models: the tests check the app's behaviour (streaming, sources, messages), not answer
quality, and must stay fast on two CPU cores; the answer path is the same as with the default
models. Streamlit's resource caches are process-wide, so they are cleared around every test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from ingest.service import make_indexer
from rag.domain import Article
from rag.settings import PROJECT_ROOT, Settings, get_settings
from rag.store import VectorStore, open_client

MAIN = str(PROJECT_ROOT / "app" / "main.py")
XSS = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'
ARTICLES = [
    Article(
        id="6315605",
        url="https://www.heise.de/-6315605",
        title="Exchange-Server: Jahr-2022-Fehler stoppt die Mailzustellung",
        body="Ein Datumsfehler im Malware-Scanner hält seit Neujahr E-Mails in Exchange-Warteschlangen fest. "
        "Microsoft hat ein Skript veröffentlicht, das den Fehler behebt.",
        published_at=datetime(2022, 1, 2, 9, tzinfo=UTC),
        source="heise",
    ),
    Article(
        id="7000001",
        url="https://www.heise.de/-7000001",
        title="Raspberry Pi 5 kommt mit schnellerem Prozessor",
        body="Der neue Raspberry Pi ist deutlich schneller als sein Vorgänger.",
        published_at=datetime(2023, 9, 28, 9, tzinfo=UTC),
        source="heise",
    ),
    Article(
        id="7000002",
        url="javascript:alert(1)",
        title=f"Browser-Lücke {XSS} in Chromium",
        body=f"Eine präparierte Seite mit {XSS} konnte Skripte im Browser ausführen. Google hat die "
        "Sicherheitslücke in Chromium geschlossen.",
        published_at=datetime(2023, 10, 5, 9, tzinfo=UTC),
        source="heise",
    ),
]


@pytest.fixture
def small_index(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, provisioned: Callable[[str], Path]
) -> Settings:
    """Settings for a fresh three-article index under ``tmp_path``, built with the small models."""
    provisioned("all-minilm-l6-v2")
    provisioned("tiny-random-llama")
    monkeypatch.setenv("HEISE_RAG_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("HEISE_RAG_EMBEDDING_MODEL", "all-minilm-l6-v2")
    monkeypatch.setenv("HEISE_RAG_GENERATOR_MODEL", "tiny-random-llama")
    monkeypatch.setenv("HEISE_RAG_GENERATOR_MAX_NEW_TOKENS", "8")
    get_settings.cache_clear()
    settings = get_settings()
    client = open_client(settings)
    make_indexer(settings, VectorStore(client, settings.collection)).ingest(ARTICLES)
    client.close()
    return settings


@pytest.fixture
def fresh_caches() -> Iterator[None]:
    """Streamlit's caches and the settings start empty and are emptied again after the test."""
    st.cache_resource.clear()
    st.cache_data.clear()
    get_settings.cache_clear()
    yield
    st.cache_resource.clear()  # closes the embedded Qdrant client
    st.cache_data.clear()
    get_settings.cache_clear()


@pytest.fixture
def app_env(fresh_caches: None, small_index: Settings) -> Settings:
    return small_index


@pytest.fixture
def app() -> Callable[[str], AppTest]:
    """The app switched to one page and run once."""

    def open_page(page: str) -> AppTest:
        test = AppTest.from_file(MAIN, default_timeout=120).run()
        test.switch_page(f"pages/{page}.py")
        return test.run()

    return open_page
