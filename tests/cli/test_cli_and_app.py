"""The CLI and the index status probe, run for real (typer's runner, a real embedded store).

The app's pages are tested in tests/app/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from qdrant_client import QdrantClient, models
from typer.testing import CliRunner

import cli.main
from cli.main import app
from rag.core.settings import Settings
from rag.models.registry import MODELS
from rag.store.status import index_status

runner = CliRunner()


def test_models_list_shows_every_model_with_source(isolated_env: Path) -> None:
    result = runner.invoke(app, ["models", "list"])
    assert result.exit_code == 0, result.output
    for spec in MODELS.values():
        line = next(line for line in result.output.splitlines() if line.startswith(spec.name))
        assert spec.package_label in line and spec.upstream in line


def test_unknown_model_is_a_clear_error(isolated_env: Path) -> None:
    result = runner.invoke(app, ["models", "provision", "--name", "gpt-17"])
    assert result.exit_code == 1
    assert "unbekannte(s) Modell(e) ['gpt-17']" in result.output


@pytest.mark.parametrize(
    ("engine", "flag", "built"),
    [
        ("transformers", [], ()),
        ("openvino-int8", [], ("openvino-int8",)),
        ("onnx-int8", [], ("onnx-int8",)),
        ("onnx-int4", [], ("onnx-int4",)),
        ("transformers", ["--onnx"], ("onnx-int8", "onnx-int4")),
        (
            "openvino-int8",
            ["--engine", "onnx-int8", "--engine", "openvino-int8"],
            ("openvino-int8", "onnx-int8"),
        ),
    ],
)
def test_provisioning_builds_the_copies_of_the_configured_and_named_engines(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch, engine: str, flag: list[str], built: tuple[str, ...]
) -> None:
    asked: dict[str, Any] = {}
    monkeypatch.setattr(cli.main, "provision_all", lambda *args, **kwargs: asked.update(kwargs) or [])
    monkeypatch.setenv("HEISE_RAG_GENERATOR_ENGINE", engine)
    cli.main.get_settings.cache_clear()
    result = runner.invoke(app, ["models", "provision", *flag])
    assert result.exit_code == 0, result.output
    assert tuple(asked["copies"]) == built


def test_provisioning_refuses_an_engine_without_a_copy(isolated_env: Path) -> None:
    result = runner.invoke(app, ["models", "provision", "--engine", "transformers"])
    assert result.exit_code == 1 and "unbekannte Engine(s) ['transformers']" in result.output


def test_index_status_reads_a_real_embedded_store(tmp_path: Path) -> None:
    path = tmp_path / "qdrant"
    client = QdrantClient(path=str(path))
    client.create_collection(
        "heise", vectors_config=models.VectorParams(size=4, distance=models.Distance.COSINE)
    )
    client.upsert("heise", [models.PointStruct(id=i, vector=[1.0, 0, 0, i]) for i in range(3)])
    client.close()
    status = index_status(Settings(_env_file=None, qdrant_path=str(path), qdrant_embedded_engine="local"))
    assert status.error is None and status.mode == "embedded"
    assert status.collections == {"heise": 3}


def test_unreachable_qdrant_server_is_named() -> None:
    status = index_status(Settings(_env_file=None, qdrant_url="http://127.0.0.1:9"))
    assert status.mode == "server"
    assert status.error is not None and "http://127.0.0.1:9" in status.error
