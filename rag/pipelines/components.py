"""Wire settings into a ready ask pipeline; the CLI, the app and the evaluation share it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from langchain_core.language_models import BaseChatModel

from rag.core.settings import Settings
from rag.generation import make_chat_model
from rag.models.embeddings import Embedder
from rag.pipelines.ask import EmptyIndexError, RagPipeline
from rag.retrieval.rerank import CrossEncoderReranker
from rag.retrieval.search import HybridRetriever, make_retriever

if TYPE_CHECKING:
    from rag.reader.reader import SpanReader
from rag.store.vector_store import VectorStore, open_client


def make_reranker(settings: Settings, top_n: int) -> CrossEncoderReranker | None:
    """The configured cross-encoder, or None: reranking is off when no model is set."""
    if not settings.reranker_model:
        return None
    return CrossEncoderReranker(
        model_name=settings.reranker_model,
        cache_dir=settings.model_cache_dir,
        device=settings.device,
        top_n=top_n,
        first_stage_weight=settings.reranker_first_stage_weight,
    )


def make_reader(settings: Settings) -> SpanReader | None:
    """The configured extractive reader, or None when no reader is set or the mode does not use it."""
    if settings.reader_model is None or settings.answer_mode == "generate":
        return None
    from rag.reader.reader import SpanReader

    return SpanReader.from_settings(settings)


def configured_retriever(
    store: VectorStore, embedder: Embedder, settings: Settings, k: int | None = None
) -> HybridRetriever:
    """The retriever with the configured fusion and depths; ``k`` defaults to the candidate depth."""
    return make_retriever(
        store,
        embedder,
        k=k or settings.retrieval_candidates,
        dense_limit=settings.prefetch_limit,
        sparse_limit=settings.prefetch_limit,
        dense_weight=settings.dense_weight,
        sparse_weight=settings.sparse_weight,
        fusion=settings.fusion,
        rrf_k=settings.rrf_k,
        auto_sparse_threshold=settings.auto_sparse_threshold,
    )


def build_pipeline(
    settings: Settings,
    store: VectorStore,
    embedder: Embedder | None = None,
    chat_model: BaseChatModel | None = None,
    reranker: CrossEncoderReranker | None = None,
    backend: str | None = None,
    reader: SpanReader | None = None,
) -> RagPipeline:
    """A pipeline over an open store; the app passes its once-per-process models, the CLI none."""
    if not store.exists():
        raise EmptyIndexError(
            f"Die Sammlung {store.collection!r} gibt es noch nicht. Bitte zuerst Artikel aufnehmen, "
            "z. B. mit `heise-rag index build-default`."
        )
    retriever = configured_retriever(store, embedder or Embedder.from_settings(settings), settings)
    return RagPipeline(
        retriever,
        chat_model or make_chat_model(settings, backend),
        reranker or make_reranker(settings, settings.answer_sources),
        source_chars=settings.source_chars or None,
        reader=reader or make_reader(settings),
        answer_mode=settings.answer_mode,
        min_confidence=settings.reader_min_confidence,
        reader_choice=settings.reader_choice,
        passage_min_confidence=settings.reader_passage_min_confidence,
    )


@contextmanager
def open_pipeline(
    settings: Settings, backend: str | None = None, collection: str | None = None
) -> Iterator[RagPipeline]:
    """A pipeline over an existing collection; the store is closed again on exit."""
    client = open_client(settings)
    try:
        store = VectorStore(client, collection or settings.collection)
        yield build_pipeline(settings, store, backend=backend)
    finally:
        client.close()
