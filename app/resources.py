"""Clients and models the app loads once per process, and German messages for what can fail.

Why `st.cache_resource`: Streamlit reruns a page's script on every interaction; the encoders, the
answer model and the classifier take seconds to load and hundreds of MB, so each is built on first
use and shared by every session. The embedded Qdrant store allows one process per folder, so the
app opens exactly one client for its lifetime and every page (asking, statistics, ingest) uses it.
A failure is not cached: the next rerun tries again, so starting Qdrant or TGI later just works.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, cast

import streamlit as st

from app.index_build import DefaultIndexBuild
from rag.core.settings import PROJECT_ROOT, Settings, get_settings

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from qdrant_client import QdrantClient

    from rag.engagement.predictor import EngagementPredictor
    from rag.models.embeddings import Embedder
    from rag.reader.reader import SpanReader
    from rag.retrieval.rerank import CrossEncoderReranker
    from rag.store.status import CollectionStats
    from rag.store.vector_store import VectorStore

# The model stack (torch, transformers, sentence-transformers, LangChain, qdrant-client) takes from
# seconds to half a minute to import on a busy CPU. Every import of it is deferred into the function
# that needs it, so a page draws at once and the import happens behind a spinner or in the warm-up.


# Sessions run in threads of one process. Two of them loading different models at once import
# transformers' lazy submodules concurrently, which fails ("cannot import name AutoModelForCausalLM");
# importing the model stack and loading models is therefore one at a time per process (re-entrant).
LOAD_LOCK = threading.RLock()


class AppError(RuntimeError):
    """A failure explained in German for the page; the app stays usable after showing it."""


def _store_error(exc: BaseException, settings: Settings) -> AppError:
    if settings.qdrant_url:
        return AppError(
            f"Der Qdrant-Server unter {settings.qdrant_url} ist nicht erreichbar. Läuft er? Sonst "
            f"HEISE_RAG_QDRANT_URL prüfen oder leeren (eingebetteter Speicher). Details: {exc}"
        )
    if "in use by another process" in str(exc):
        return AppError(
            f"Der eingebettete Index unter {settings.resolved_qdrant_path} wird gerade von einem anderen "
            "Prozess benutzt (einer zweiten App oder einem laufenden Ingest). Der eingebettete Speicher "
            "erlaubt nur einen Prozess: den anderen beenden und die Seite neu laden, oder einen "
            "Qdrant-Server nutzen (HEISE_RAG_QDRANT_URL)."
        )
    return AppError(f"Der Index unter {settings.resolved_qdrant_path} lässt sich nicht öffnen: {exc}")


def _is(exc: BaseException, module: str, *names: str) -> bool:
    """Whether ``exc`` is one of the named classes of ``module``, without importing it: an instance
    of a class implies its module is loaded, so an absent module means "no"."""
    loaded = sys.modules.get(module)
    return loaded is not None and isinstance(exc, tuple(getattr(loaded, n) for n in names))


def user_message(exc: BaseException) -> str:
    """A German sentence for ``exc``; unknown errors are named with their type, never as a trace."""
    if (
        isinstance(exc, AppError)
        or _is(exc, "rag.pipelines.ask", "AskError")
        or _is(exc, "rag.engagement.predictor", "HeadlineError")
    ):
        return str(exc)
    if _is(exc, "rag.generation.errors", "GeneratorError"):
        return str(exc)
    if _is(exc, "rag.store.vector_store", "StoreUnavailableError") or _is(
        exc, "qdrant_client.http.exceptions", "ResponseHandlingException", "UnexpectedResponse"
    ):
        return str(_store_error(exc, get_settings()))
    if _is(exc, "rag.models.resolve", "ModelNotProvisionedError"):
        return f"Ein Modell ist nicht eingerichtet; `make run` richtet alle ein. Details: {exc}"
    if _is(exc, "ingest.sources.base", "UnreadableLocation"):
        return f"Die Quelle ist nicht lesbar: {exc}"
    return f"Unerwarteter Fehler ({type(exc).__name__}): {exc}"


@st.cache_resource(show_spinner=False, on_release=lambda client: client.close())
def qdrant_client() -> QdrantClient:
    """The one client of this process (closed when the cache is cleared); see the module docstring."""
    from rag.store.shared_client import SharedClient
    from rag.store.vector_store import open_client

    settings = get_settings()
    try:
        # Shared with the background build of the default index (app/index_build.py).
        return cast("QdrantClient", SharedClient(open_client(settings)))
    except (RuntimeError, OSError) as exc:  # StoreUnavailableError (locked) is a RuntimeError
        raise _store_error(exc, settings) from exc


def vector_store() -> VectorStore:
    """The configured collection over the process's client (cheap; the client is cached)."""
    from rag.store.vector_store import VectorStore

    return VectorStore(qdrant_client(), get_settings().collection)


@st.cache_resource(show_spinner=False)
def embedder() -> Embedder:
    """The bi-encoder, loaded now so the first question does not pay for it inside the search."""
    with LOAD_LOCK:
        from rag.models.embeddings import Embedder

        model = Embedder.from_settings(get_settings())
        _ = model.model
    return model


@st.cache_resource(show_spinner=False)
def chat_model(backend: str) -> BaseChatModel:
    """The answer model of ``backend``: loaded (local) or checked (TGI) before it is cached."""
    with LOAD_LOCK:
        from rag.generation import make_chat_model

        model = make_chat_model(get_settings(), backend)
        warm_up = getattr(model, "warm_up", None)
        if callable(warm_up):
            warm_up()
    return model


@st.cache_resource(show_spinner=False)
def reranker() -> CrossEncoderReranker | None:
    with LOAD_LOCK:
        from rag.pipelines.components import make_reranker

        settings = get_settings()
        return make_reranker(settings, settings.answer_sources)


@st.cache_resource(show_spinner=False)
def reader() -> SpanReader | None:
    """The extractive reader, loaded now; None when the answer mode does not use one."""
    with LOAD_LOCK:
        from rag.pipelines.components import make_reader

        model = make_reader(get_settings())
        if model is not None:
            model.warm_up()
    return model


@st.cache_resource(show_spinner=False)
def engagement_predictor() -> EngagementPredictor:
    with LOAD_LOCK:
        from rag.engagement.predictor import EngagementPredictor

        predictor = EngagementPredictor.from_settings(get_settings())
        predictor.warm_up()
    return predictor


@st.cache_data(show_spinner=False, ttl=600)
def index_stats() -> CollectionStats | None:
    """Statistics of the configured collection (one scroll); None when it does not exist yet.

    Cached for a while because the ask page's source filter and the index page both need it;
    an ingest clears the cache.
    """
    from rag.store.status import collection_stats

    store = vector_store()
    return collection_stats(store, get_settings()) if store.exists() else None


@st.cache_resource(show_spinner=False)
def default_index_build() -> DefaultIndexBuild:
    """The process's one build of the default index (started by `start_index_build`)."""
    return DefaultIndexBuild()


def start_index_build() -> None:
    """Build a missing or unfinished default index in the background, once per process.

    Only under a Streamlit runtime (not when a page module is merely imported) and when
    `HEISE_RAG_APP_BUILDS_INDEX` is on; the thread itself finds out whether anything is missing.
    """
    settings = get_settings()
    if st.runtime.exists() and settings.app_builds_index:
        default_index_build().start(settings, vector_store, embedder)


def building_notice() -> str | None:
    """The notice for an answer given while the default index is still being built."""
    progress = default_index_build().progress()
    return progress.answer_notice() if progress is not None and progress.state == "running" else None


_warm_lock = threading.Lock()
_warm_started: set[str] = set()


def warm_up_in_background(backend: str) -> None:
    """Load the ask path's client and models in a thread while the reader types the first question.

    Once per process and backend, and only under a running Streamlit server (not in AppTest, whose
    tests switch settings between runs). A failure is ignored here: it is not cached, so the
    question itself loads again and shows the German message.
    """
    if not st.runtime.exists():
        return
    with _warm_lock:
        if backend in _warm_started:
            return
        _warm_started.add(backend)

    def load() -> None:
        try:
            vector_store()
            embedder()
            chat_model(backend)
            reader()
        except Exception:  # reported by the question that needs it
            return

    threading.Thread(target=load, name=f"warm-up-{backend}", daemon=True).start()


def clear_index_caches() -> None:
    index_stats.clear()


def repo_path(*parts: str) -> Path:
    """A path in the checkout (reports, model card), independent of the working directory."""
    return PROJECT_ROOT.joinpath(*parts)
