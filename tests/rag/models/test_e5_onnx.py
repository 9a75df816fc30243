"""The ONNX encoder copy: built once (manifest last, rebuilt when interrupted, truncated or made by
another exporter), its vectors agree with torch's, and a missing runtime falls back to torch with
a warning instead of failing."""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import rag.models.e5_onnx as e5_onnx
from rag.core.settings import Settings
from rag.models.e5_onnx import MODEL_FILES, E5OnnxError, e5_onnx_state, provision_e5_onnx
from rag.models.embeddings import Embedder
from rag.models.provision import MANIFEST, ModelState, expected_manifest, model_state
from rag.models.registry import MODELS, ModelSpec

E5 = "multilingual-e5-small"
PASSAGES = [
    "Die Bundesnetzagentur hat die Frequenzauktion für 5G beendet; der Erlös liegt bei 6,5 Mrd. Euro.",
    "Microsoft hat ein Update für Exchange veröffentlicht, das eine kritische Lücke schließt.",
    "Größere Akkus, schnellere Prozessoren: Das neue Smartphone kostet ab 999 €.",
    "Kurz",
]
QUERIES = ["Was war Anfang 2022 mit Exchange los?", "Wie teuer ist das neue Smartphone?"]


@pytest.fixture
def base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[ModelSpec, ModelState]:
    """A ready (empty) base folder in a temporary cache; exporter versions pinned to 1.0."""
    spec = replace(MODELS[E5], name="fake-e5")
    folder = tmp_path / spec.name
    folder.mkdir()
    (folder / MANIFEST).write_text(json.dumps(expected_manifest(spec)), encoding="utf-8")
    monkeypatch.setattr(e5_onnx, "_exporter_versions", lambda: {"torch": "1.0", "onnxruntime": "1.0"})
    return spec, model_state(spec, tmp_path)


def fake_builder(calls: list[Path]):
    def build(source: Path, out: Path) -> None:
        calls.append(source)
        out.mkdir()
        for name in MODEL_FILES:
            (out / name).write_text(name, encoding="utf-8")

    return build


def test_builds_once_then_is_a_no_op(base: tuple[ModelSpec, ModelState]) -> None:
    spec, state = base
    calls: list[Path] = []
    built = provision_e5_onnx(spec, state, state.path.parent, lambda _: None, fake_builder(calls))
    assert built.status == "ready" and calls == [state.path]
    manifest = json.loads((built.path / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["base"] == expected_manifest(spec) and set(manifest["files"]) == set(MODEL_FILES)
    assert all(len(f["sha256"]) == 64 for f in manifest["files"].values())
    provision_e5_onnx(spec, state, state.path.parent, lambda _: None, fake_builder(calls))
    assert len(calls) == 1


def test_interrupted_truncated_or_older_builds_are_rebuilt(
    base: tuple[ModelSpec, ModelState], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, state = base
    cache = state.path.parent
    calls: list[Path] = []
    build = fake_builder(calls)
    folder = provision_e5_onnx(spec, state, cache, lambda _: None, build).path

    (folder / MANIFEST).unlink()  # interrupted before the manifest
    assert e5_onnx_state(spec, cache).status == "incomplete"
    provision_e5_onnx(spec, state, cache, lambda _: None, build)

    (folder / "model-int8.onnx").write_text("cut", encoding="utf-8")  # a file that changed size
    assert e5_onnx_state(spec, cache).status == "incomplete"
    provision_e5_onnx(spec, state, cache, lambda _: None, build)

    monkeypatch.setattr(e5_onnx, "_exporter_versions", lambda: {"torch": "2.0", "onnxruntime": "1.0"})
    assert e5_onnx_state(spec, cache).status == "stale"  # an older exporter made it
    assert provision_e5_onnx(spec, state, cache, lambda _: None, build).status == "ready"
    assert len(calls) == 4


def test_a_failed_build_leaves_nothing_in_the_cache(base: tuple[ModelSpec, ModelState]) -> None:
    spec, state = base

    def failing(source: Path, out: Path) -> None:
        out.mkdir()
        (out / "model.onnx").write_text("half", encoding="utf-8")
        raise RuntimeError("export failed")

    with pytest.raises(E5OnnxError, match="torch"):
        provision_e5_onnx(spec, state, state.path.parent, lambda _: None, failing)
    assert e5_onnx_state(spec, state.path.parent).status == "missing"


def test_a_missing_runtime_skips_the_build_with_a_message(
    base: tuple[ModelSpec, ModelState], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, state = base
    monkeypatch.setattr(e5_onnx, "_exporter_versions", lambda: {"torch": "1.0", "onnxruntime": None})
    messages: list[str] = []
    assert provision_e5_onnx(spec, state, state.path.parent, messages.append).status == "missing"
    assert "nicht installiert" in messages[0] and "torch" in messages[0]


def _provisioned_cache() -> Path:
    cache = Settings().model_cache_dir
    if model_state(MODELS[E5], cache).status != "ready":
        pytest.skip(f"{E5} is not provisioned (`heise-rag models provision`)")
    if e5_onnx_state(MODELS[E5], cache).status != "ready":
        pytest.skip(f"its ONNX copy is not built (`heise-rag models provision --name {E5} --encoder-onnx`)")
    return cache


@pytest.mark.slow
@pytest.mark.parametrize(("backend", "tolerance"), [("onnx", 1e-4), ("onnx-int8", 1.5e-2)])
def test_onnx_vectors_agree_with_torch(backend: str, tolerance: float) -> None:
    cache = _provisioned_cache()
    torch_e = Embedder(E5, cache_dir=cache, batch_size=3, dtype="float32")
    onnx_e = Embedder(E5, cache_dir=cache, batch_size=3, backend=backend)  # type: ignore[arg-type]
    assert onnx_e.active_backend == backend
    assert (onnx_e.dim, onnx_e.max_tokens) == (torch_e.dim, torch_e.max_tokens)
    assert [onnx_e.count_tokens(p) for p in PASSAGES] == [torch_e.count_tokens(p) for p in PASSAGES]
    docs = (onnx_e.encode_documents(PASSAGES) * torch_e.encode_documents(PASSAGES)).sum(1)
    queries = [float(onnx_e.encode_query(q) @ torch_e.encode_query(q)) for q in QUERIES]
    assert docs.min() > 1 - tolerance and min(queries) > 1 - tolerance
    assert np.allclose(np.linalg.norm(onnx_e.encode_documents(PASSAGES), axis=1), 1, atol=1e-5)


@pytest.mark.slow
def test_a_missing_runtime_falls_back_to_torch_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    cache = _provisioned_cache()
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` raises ImportError
    embedder = Embedder(E5, cache_dir=cache, backend="onnx-int8")
    with caplog.at_level(logging.WARNING, logger="rag.models.embeddings"):
        vector = embedder.encode_query(QUERIES[0])
    assert embedder.active_backend == "torch"
    assert "weiter mit torch" in caplog.text
    reference = Embedder(E5, cache_dir=cache).encode_query(QUERIES[0])
    assert float(vector @ reference) > 0.9999


def test_settings_read_the_backend_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEISE_RAG_EMBEDDING_BACKEND", "onnx-int8")
    settings = Settings()
    assert Embedder.from_settings(settings).backend == "onnx-int8"
