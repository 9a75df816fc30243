"""`heise-rag index build-default` takes over a default index that the other embedded engine wrote,
and saying so in German; other commands refuse a folder of the other engine with the remedy."""

from __future__ import annotations

from pathlib import Path

import pytest
from qdrant_client import models
from typer.testing import CliRunner

from cli.main import app
from rag.core.settings import get_settings
from rag.store.layout import DENSE, SPARSE
from rag.store.migrate import store_engine
from rag.store.vector_store import VectorStore, open_client

runner = CliRunner()
# What a finished default index records: both sources done, BM25 statistics present (no rebuild).
DONE = {
    "complete_sources": ["10kgnad", "headlines"],
    "bm25_avgdl": 9.0,
    "bm25_docs": 3,
    "bm25_total_terms": 27,
}


def local_default_index(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HEISE_RAG_QDRANT_EMBEDDED_ENGINE", "local")
    get_settings.cache_clear()
    settings = get_settings()
    client = open_client(settings)
    store = VectorStore(client, settings.collection)
    store.create(4, DONE)
    store.upsert(
        [
            models.PointStruct(
                id=i,
                vector={DENSE: [1.0, i, 0.0, 0.0], SPARSE: models.SparseVector(indices=[i], values=[1.0])},
                payload={"source": "heise", "article_id": str(i)},
            )
            for i in range(3)
        ]
    )
    client.close()
    return Path(settings.resolved_qdrant_path)


def test_build_default_takes_over_the_local_mode_index(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = local_default_index(monkeypatch)
    monkeypatch.setenv("HEISE_RAG_QDRANT_EMBEDDED_ENGINE", "edge")
    get_settings.cache_clear()

    result = runner.invoke(app, ["index", "build-default"])
    assert result.exit_code == 0, result.output
    assert "stammt von der Engine 'local', eingestellt ist 'edge'" in result.output
    assert f"3 Punkte in 1 Sammlung(en) übernommen; der alte Speicher in {old} kann gelöscht" in result.output
    assert "Standardindex vollständig" in result.output
    assert store_engine(Path(get_settings().resolved_qdrant_path)) == "edge"
    assert store_engine(old) == "local"

    again = runner.invoke(app, ["index", "build-default"])
    assert "übernommen" not in again.output and "Standardindex vollständig" in again.output


def test_a_folder_of_the_other_engine_is_refused_with_the_remedy(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = local_default_index(monkeypatch)
    monkeypatch.setenv("HEISE_RAG_QDRANT_PATH", str(old))
    monkeypatch.setenv("HEISE_RAG_QDRANT_EMBEDDED_ENGINE", "edge")
    get_settings.cache_clear()

    result = runner.invoke(app, ["index", "stats"])
    assert result.exit_code == 1
    assert "wurde mit der Engine 'local' angelegt" in result.output
    assert "HEISE_RAG_QDRANT_EMBEDDED_ENGINE=local" in result.output
    assert store_engine(old) == "local"  # nothing written beside it
