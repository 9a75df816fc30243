"""Document prompts per collection and re-embedding, with the real E5 encoder and the embedded store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from ingest.reembed import PENDING, collection_prompt, needs_reembedding
from ingest.service import make_indexer, reembed
from rag.core.domain import Article
from rag.core.settings import Settings, get_settings
from rag.models.embeddings import Embedder
from rag.retrieval.sparse import document_text
from rag.store.layout import DENSE
from rag.store.vector_store import VectorStore, open_client


@pytest.fixture
def e5_env(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch, provisioned: Callable[[str], Path]
) -> Settings:
    """A temporary store with the real E5 encoder (its folder declares `passage: `)."""
    provisioned("multilingual-e5-small")
    monkeypatch.setenv("HEISE_RAG_EMBEDDING_MODEL", "multilingual-e5-small")
    monkeypatch.setenv("HEISE_RAG_EMBEDDING_DOCUMENT_PROMPT", "passage")
    get_settings.cache_clear()
    return get_settings()


def dense_by_text(store: VectorStore) -> dict[str, np.ndarray]:
    """Each point's dense vector, keyed by the text it was embedded from."""
    vectors = {}
    for page in store.scroll_pages():
        for point in page:
            payload = point.payload or {}
            assert isinstance(point.vector, dict)
            vectors[document_text(payload["title"], payload["text"])] = np.asarray(point.vector[DENSE])
    return vectors


# bf16 document batches (HEISE_RAG_EMBEDDING_DTYPE=auto on CPUs with native bf16) depend on the
# batch they were padded in, at cosine > 0.9999 to each other; another prompt moves a vector further
# (`test_the_cosine_bound_tells_the_prompts_apart`).
SAME_PROMPT_COSINE = 0.9995


def assert_embedded_with(store: VectorStore, embedder: Embedder, prompt: str) -> None:
    stored = dense_by_text(store)
    expected = embedder.encode_documents(list(stored), prompt)
    cosines = np.sum(np.stack(list(stored.values())) * expected, axis=1)
    assert cosines.min() > SAME_PROMPT_COSINE, cosines


def test_the_cosine_bound_tells_the_prompts_apart(e5_env: Settings, sample_articles: list[Article]) -> None:
    embedder = Embedder.from_settings(e5_env)
    texts = [document_text(a.title, a.body or a.teaser) for a in sample_articles[:2]]
    prompted, bare = embedder.encode_documents(texts, "passage: "), embedder.encode_documents(texts, "")
    cosines = np.sum(prompted * bare, axis=1)
    assert cosines.max() < SAME_PROMPT_COSINE, cosines


def test_the_document_prompt_follows_the_setting(e5_env: Settings) -> None:
    assert Embedder.from_settings(e5_env).document_prompt == "passage: "
    bare = Embedder.from_settings(e5_env.model_copy(update={"embedding_document_prompt": "none"}))
    assert bare.document_prompt == ""


def test_new_collections_record_the_prompt_and_embed_with_it(
    e5_env: Settings, sample_articles: list[Article]
) -> None:
    client = open_client(e5_env)
    try:
        indexer = make_indexer(e5_env, VectorStore(client, e5_env.collection))
        indexer.ingest(sample_articles[:2])
        store = indexer.store
        assert indexer.embedder.document_prompt == "passage: "
        assert store.metadata()["document_prompt"] == "passage: "
        assert_embedded_with(store, indexer.embedder, "passage: ")
        assert not needs_reembedding(store, indexer.embedder)
    finally:
        client.close()


def test_an_older_collection_stays_consistent_until_it_is_reembedded(
    e5_env: Settings, monkeypatch: pytest.MonkeyPatch, sample_articles: list[Article]
) -> None:
    client = open_client(e5_env)
    try:
        store = VectorStore(client, e5_env.collection)
        with monkeypatch.context() as old_code:  # as before 2026-12-05: no prompt and none recorded
            old_code.setattr(Embedder, "document_prompt", property(lambda self: ""))
            make_indexer(e5_env, store).ingest(sample_articles[:1])
        store.update_metadata({"document_prompt": None})
        indexer = make_indexer(e5_env, store)
        indexer.ingest(sample_articles[1:])  # new articles join without the prompt: no mix
        assert collection_prompt(store.metadata()) == ""
        assert_embedded_with(store, indexer.embedder, "")
        assert needs_reembedding(store, indexer.embedder)
        points = len(dense_by_text(store))
    finally:
        client.close()

    assert reembed(e5_env) == points
    assert reembed(e5_env) is None  # nothing left to do
    client = open_client(e5_env)
    try:
        store = VectorStore(client, e5_env.collection)
        metadata = store.metadata()
        assert metadata["document_prompt"] == "passage: " and metadata.get(PENDING) is None
        assert_embedded_with(store, Embedder.from_settings(e5_env), "passage: ")
    finally:
        client.close()


def test_an_interrupted_reembedding_is_finished_and_new_articles_use_its_target() -> None:
    metadata: dict[str, object] = {"document_prompt": None, PENDING: "passage: "}
    assert collection_prompt(metadata) == "passage: "
    assert collection_prompt({"document_prompt": "passage: ", PENDING: None}) == "passage: "
    assert collection_prompt({}) == ""
