"""Provisioning of the int8/int4 ONNX copies: idempotent, manifest last, rebuilt when stale, never fatal
where the runtime is missing. The builder is replaced by one that writes small files (the real
build runs in tests/rag/generation/test_onnx_engine.py)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

import rag.models.onnx_build as onnx_build
from rag.models.onnx_build import MODEL_FILES, OnnxBuildError, onnx_precision, onnx_state, provision_onnx
from rag.models.provision import MANIFEST, ModelState, expected_manifest, model_state, provision_all
from rag.models.registry import MODELS, ModelSpec


@pytest.fixture
def base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[ModelSpec, ModelState]:
    """A ready (empty) base folder in a temporary cache, the runtime "installed" at version 1.0."""
    spec = replace(MODELS["tiny-random-llama"], name="fake-llama", generator_copies=True)
    folder = tmp_path / spec.name
    folder.mkdir()
    (folder / MANIFEST).write_text(json.dumps(expected_manifest(spec)), encoding="utf-8")
    monkeypatch.setattr(onnx_build, "runtime_version", lambda: "1.0")
    return spec, model_state(spec, tmp_path)


def fake_builder(calls: list[Path], precisions: list[str] | None = None):
    def build(source: Path, out: Path, work: Path, precision: str) -> None:
        calls.append(source)
        if precisions is not None:
            precisions.append(precision)
        out.mkdir()
        for name in MODEL_FILES:
            (out / name).write_text(name, encoding="utf-8")

    return build


def test_builds_once_then_is_a_no_op(
    base: tuple[ModelSpec, ModelState], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, state = base
    calls: list[Path] = []
    monkeypatch.setattr(onnx_build, "_run_builder", fake_builder(calls))
    built = provision_onnx(spec, state, state.path.parent, log=lambda _: None)
    assert built.status == "ready" and calls == [state.path]
    manifest = json.loads((built.path / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["builder_version"] == "1.0" and manifest["base"] == expected_manifest(spec)
    assert set(manifest["files"]) == set(MODEL_FILES)
    assert all(len(f["sha256"]) == 64 for f in manifest["files"].values())
    provision_onnx(spec, state, state.path.parent, log=lambda _: None)
    assert len(calls) == 1


def test_interrupted_truncated_or_older_builds_are_rebuilt(
    base: tuple[ModelSpec, ModelState], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, state = base
    cache = state.path.parent
    calls: list[Path] = []
    monkeypatch.setattr(onnx_build, "_run_builder", fake_builder(calls))
    folder = provision_onnx(spec, state, cache, log=lambda _: None).path

    (folder / MANIFEST).unlink()  # interrupted before the manifest
    assert onnx_state(spec, cache).status == "incomplete"
    provision_onnx(spec, state, cache, log=lambda _: None)

    (folder / "model.onnx.data").write_text("cut", encoding="utf-8")  # a file that changed size
    assert onnx_state(spec, cache).status == "incomplete"
    provision_onnx(spec, state, cache, log=lambda _: None)

    monkeypatch.setattr(onnx_build, "runtime_version", lambda: "2.0")  # a newer builder
    assert onnx_state(spec, cache).status == "stale"
    assert provision_onnx(spec, state, cache, log=lambda _: None).status == "ready"
    assert len(calls) == 4


def test_a_failed_build_leaves_nothing_in_the_cache(
    base: tuple[ModelSpec, ModelState], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, state = base

    def failing(source: Path, out: Path, work: Path, precision: str) -> None:
        out.mkdir()
        (out / "model.onnx").write_text("half", encoding="utf-8")
        raise OnnxBuildError("the onnxruntime-genai builder failed (exit 1)")

    monkeypatch.setattr(onnx_build, "_run_builder", failing)
    with pytest.raises(OnnxBuildError):
        provision_onnx(spec, state, state.path.parent, log=lambda _: None)
    assert onnx_state(spec, state.path.parent).status == "missing"


def test_a_missing_runtime_wheel_skips_the_build_with_a_message(
    base: tuple[ModelSpec, ModelState], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, state = base
    monkeypatch.setattr(onnx_build, "runtime_version", lambda: None)
    messages: list[str] = []
    assert provision_onnx(spec, state, state.path.parent, log=messages.append).status == "missing"
    assert "nicht installiert" in messages[0] and "transformers" in messages[0]


@pytest.fixture
def built_precisions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The precisions the (fake) builder was run for, in order."""
    precisions: list[str] = []
    monkeypatch.setattr(onnx_build, "_run_builder", fake_builder([], precisions))
    return precisions


def test_each_precision_has_its_own_folder_and_build(
    base: tuple[ModelSpec, ModelState], built_precisions: list[str]
) -> None:
    spec, state = base
    precisions = built_precisions
    cache = state.path.parent
    int8 = provision_onnx(spec, state, cache, log=lambda _: None, precision="int8")
    assert int8.status == "ready" and int8.path.name == "fake-llama-onnx-int8"
    assert onnx_state(spec, cache, "int4").status == "missing"  # one precision is not the other
    int4 = provision_onnx(spec, state, cache, log=lambda _: None, precision="int4")
    assert int4.path.name == "fake-llama-onnx-int4" and precisions == ["int8", "int4"]
    manifest = json.loads((int8.path / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["builder"] == "onnxruntime-genai int8 cpu"


def test_provisioning_builds_the_precisions_asked_for(
    base: tuple[ModelSpec, ModelState], built_precisions: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, state = base
    monkeypatch.setitem(MODELS, spec.name, spec)
    provision_all(state.path.parent, [spec.name], log=lambda _: None)
    assert built_precisions == []  # opt-in
    provision_all(state.path.parent, [spec.name], log=lambda _: None, copies=("onnx-int8",))
    assert built_precisions == ["int8"]


def test_engine_settings_name_their_precision() -> None:
    assert [onnx_precision(e) for e in ("onnx-int8", "onnx-int4", "transformers", "onnx")] == [
        "int8",
        "int4",
        None,
        None,
    ]
