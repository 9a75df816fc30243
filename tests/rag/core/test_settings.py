from pathlib import Path

import pytest

from rag.core.settings import PROJECT_ROOT, Settings


def test_defaults_run_offline_on_embedded_storage(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("HEISE_RAG_QDRANT_URL", "HEISE_RAG_GENERATOR_URL", "HEISE_RAG_VAR_DIR"):
        monkeypatch.delenv(var, raising=False)
    s = Settings(_env_file=None)
    assert s.qdrant_url is None and s.generator_url is None
    assert s.generator_backend == "local"
    assert s.qdrant_embedded_engine == "edge"
    assert s.resolved_qdrant_path == str(PROJECT_ROOT / "var" / "qdrant-edge")
    assert s.resolved_data_dir == PROJECT_ROOT / "var" / "data"
    assert s.embedding_model == "multilingual-e5-small"
    assert s.reranker_model is None


def test_environment_prefix_and_derived_paths(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HEISE_RAG_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("HEISE_RAG_EMBEDDING_MODEL", "intfloat/multilingual-e5-small")
    monkeypatch.setenv("HEISE_RAG_QDRANT_API_KEY", "geheim")
    s = Settings(_env_file=None)
    assert s.resolved_data_dir == tmp_path / "data"
    assert s.resolved_qdrant_path == str(tmp_path / "qdrant-edge")
    assert s.embedding_model == "intfloat/multilingual-e5-small"
    assert s.qdrant_api_key is not None and s.qdrant_api_key.get_secret_value() == "geheim"
    assert "geheim" not in repr(s)


def test_dotenv_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("HEISE_RAG_COLLECTION", raising=False)
    env_file = tmp_path / ".env"
    env_file.write_text("HEISE_RAG_COLLECTION=archiv\nHEISE_RAG_GENERATOR_BACKEND=tgi\n")
    s = Settings(_env_file=env_file)
    assert s.collection == "archiv"
    assert s.generator_backend == "tgi"


def test_invalid_backend_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEISE_RAG_GENERATOR_BACKEND", "vllm-magic")
    with pytest.raises(ValueError, match="generator_backend"):
        Settings(_env_file=None)


def test_the_configuration_reference_documents_every_setting() -> None:
    text = (PROJECT_ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    undocumented = [name for name in Settings.model_fields if f"| `HEISE_RAG_{name.upper()}` |" not in text]
    assert undocumented == []
