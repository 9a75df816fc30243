"""A small real index for the app's tests: the small English encoder, the tiny random LLM.

Why these models: the tests check the app's behaviour (streaming, sources, messages), not answer
quality, and must stay fast on two CPU cores; the answer path is the same as with the default
models. Streamlit's resource caches are process-wide, so they are cleared around every test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from ingest.service import make_indexer
from rag.core.domain import Article
from rag.core.settings import PROJECT_ROOT, Settings, get_settings
from rag.store.vector_store import VectorStore, open_client

MAIN = str(PROJECT_ROOT / "app" / "main.py")
XSS = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'
HOSTILE = Article(
    id="7000002",
    url="javascript:alert(1)",
    title=f"Browser-Lücke {XSS} in Chromium",
    body=f"Eine präparierte Seite mit {XSS} konnte Skripte im Browser ausführen. Google hat die "
    "Sicherheitslücke in Chromium geschlossen.",
    published_at=datetime(2023, 10, 5, 9, tzinfo=UTC),
    source="heise",
)


@pytest.fixture
def small_index(ask_env: Settings) -> Settings:
    """The shared two-article index (``ask_env``) plus an article carrying script and image markup."""
    client = open_client(ask_env)
    make_indexer(ask_env, VectorStore(client, ask_env.collection)).ingest([HOSTILE])
    client.close()
    return ask_env


@pytest.fixture(autouse=True)
def no_background_build(monkeypatch: pytest.MonkeyPatch) -> None:
    """The app's tests run over their own small index: the app must not fill it with the default
    corpus (`HEISE_RAG_APP_BUILDS_INDEX`); the tests of that build turn it on again."""
    monkeypatch.setenv("HEISE_RAG_APP_BUILDS_INDEX", "false")
    get_settings.cache_clear()


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
