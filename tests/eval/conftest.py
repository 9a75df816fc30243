"""A tiny real index (Qdrant local mode, MiniLM encoder) and a question file for the eval commands."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.service import make_indexer
from rag.domain import Article
from rag.settings import Settings, get_settings
from rag.store import VectorStore, open_client

ARTICLES = [
    Article(
        id="100",
        title="Exchange-Server: Jahr-2022-Fehler stoppt die Mailzustellung",
        body="Ein Datumsfehler im Malware-Scanner hält seit Neujahr E-Mails in Exchange-Warteschlangen fest.",
        published_at=datetime(2022, 1, 2, 9, tzinfo=UTC),
        source="heise",
    ),
    Article(
        id="200",
        title="Raspberry Pi 5 kommt mit schnellerem Prozessor",
        body="Der neue Raspberry Pi ist deutlich schneller als sein Vorgänger.",
        published_at=datetime(2023, 9, 28, 9, tzinfo=UTC),
        source="heise",
    ),
]


@pytest.fixture
def eval_env(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch, provisioned: Callable[[str], Path]
) -> Settings:
    """The two articles above indexed in collection `heise`; the tiny random LLM answers (fast)."""
    provisioned("all-minilm-l6-v2")
    provisioned("tiny-random-llama")
    monkeypatch.setenv("HEISE_RAG_EMBEDDING_MODEL", "all-minilm-l6-v2")
    monkeypatch.setenv("HEISE_RAG_GENERATOR_MODEL", "tiny-random-llama")
    monkeypatch.setenv("HEISE_RAG_GENERATOR_MAX_NEW_TOKENS", "4")
    get_settings.cache_clear()
    settings = get_settings()
    client = open_client(settings)
    make_indexer(settings, VectorStore(client, "heise")).ingest(ARTICLES)
    client.close()
    return settings


@pytest.fixture
def question_file(tmp_path: Path) -> Path:
    """Two good questions, one malformed line, one question whose gold article is not indexed."""
    lines = [
        {
            "qid": "q1",
            "question": "Welcher Fehler stoppte Exchange?",
            "gold_ids": [100],
            "answer": "Datumsfehler",
        },
        {"qid": "q2", "question": "Wie schnell ist der neue Raspberry Pi?", "gold_ids": ["200"]},
        {"qid": "q3", "question": "Was ist mit Tesla?", "gold_ids": ["999"], "answer": "nichts"},
    ]
    path = tmp_path / "questions.jsonl"
    text = [json.dumps(lines[0]), '{"qid": "bad", "question": ', json.dumps(lines[1]), json.dumps(lines[2])]
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    return path
