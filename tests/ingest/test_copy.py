"""Copying a collection with its vectors: same points and search results, idempotent, safe."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cli.main import app
from ingest.copy import copy_collection
from rag.core.settings import Settings
from rag.models.embeddings import Embedder
from rag.retrieval.search import make_retriever
from rag.store.vector_store import VectorStore, open_client

runner = CliRunner()


def test_copy_keeps_points_metadata_and_ranking(ask_env: Settings) -> None:
    client = open_client(ask_env)
    try:
        source, target = VectorStore(client, ask_env.collection), VectorStore(client, "kopie")
        assert copy_collection(source, target, batch=1) == source.count() == target.count()
        meta = target.metadata()
        assert meta["copied_from"] == ask_env.collection and meta["copy_complete"] is True
        assert meta["bm25_avgdl"] == source.metadata()["bm25_avgdl"]
        assert "complete_sources" not in meta
        embedder = Embedder.from_settings(ask_env)
        ranked = [
            [
                d.metadata["article_id"]
                for d in make_retriever(s, embedder, k=2).search("Raspberry Pi").documents
            ]
            for s in (source, target)
        ]
        assert ranked[0] == ranked[1] and ranked[0][0] == "7000001"
        assert copy_collection(source, target) == 0  # finished copies are left alone
        with pytest.raises(ValueError, match="ist keine Kopie von"):
            copy_collection(target, source)
        with pytest.raises(ValueError, match="gibt es nicht"):
            copy_collection(VectorStore(client, "fehlt"), VectorStore(client, "neu"))
    finally:
        client.close()


def test_cli_copy(ask_env: Settings) -> None:
    first = runner.invoke(app, ["index", "copy", ask_env.collection, "kopie"])
    assert first.exit_code == 0 and "Punkte kopiert" in first.output
    again = runner.invoke(app, ["index", "copy", ask_env.collection, "kopie"])
    assert again.exit_code == 0 and "bereits eine vollständige Kopie" in again.output
    missing = runner.invoke(app, ["index", "copy", "fehlt", "x"])
    assert missing.exit_code == 1 and "gibt es nicht" in missing.output
