"""Uploads are bounded (Streamlit's config and the app's own check agree) and leave no file behind."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from app.ingest_view import ingest_upload, upload_file
from rag.core.settings import PROJECT_ROOT, Settings, get_settings


def test_streamlit_config_and_the_setting_name_the_same_upload_limit() -> None:
    config = tomllib.loads((PROJECT_ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["server"]["maxUploadSize"] == Settings(_env_file=None).upload_max_mb


def test_an_oversize_upload_is_refused_before_it_is_written(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEISE_RAG_UPLOAD_MAX_MB", "1")
    get_settings.cache_clear()
    result = ingest_upload("gross.jsonl", b"{}\n" * 400_000, "headlines")
    assert result.error == "Die Datei ist größer als 1 MB und wird nicht aufgenommen."
    assert not (isolated_env / "var").exists()


def test_the_temporary_upload_is_removed_also_when_reading_fails() -> None:
    with pytest.raises(RuntimeError), upload_file("../../etc/passwd", b"data") as path:
        assert path.name == "passwd" and path.read_bytes() == b"data"
        raise RuntimeError("the ingest failed")
    assert not path.exists() and not path.parent.exists()
