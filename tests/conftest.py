"""Shared fixtures: the real settings, and provisioned model folders (set up by `make test`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rag.models.provision import model_state
from rag.models.registry import MODELS
from rag.settings import Settings, get_settings


@pytest.fixture(scope="session")
def settings() -> Settings:
    return get_settings()


@pytest.fixture(scope="session")
def provisioned(settings: Settings) -> Callable[[str], Path]:
    """Folder of a provisioned model; skips with the reason when the set-up has not run."""

    def folder(name: str) -> Path:
        state = model_state(MODELS[name], settings.model_cache_dir)
        if state.status != "ready":
            pytest.skip(f"model {name!r} is {state.status}: run `make test` or `heise-rag models provision`")
        return state.path

    return folder


@pytest.fixture
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """Point runtime state at a temporary folder and reset the cached settings around the test."""
    monkeypatch.setenv("HEISE_RAG_VAR_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()
