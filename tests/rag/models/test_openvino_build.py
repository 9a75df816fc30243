"""The OpenVINO copy's exporter environment and export: made once, re-made when its pins change,
failures named and never left half-done. The commands are recorded instead of run (the real export
runs in tests/rag/generation/test_openvino_engine.py)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

import rag.models.openvino_build as openvino_build
from rag.models.engine_copies import COPY_ENGINES, recipe_for
from rag.models.openvino_build import (
    EXPORTER,
    MODEL_FILES,
    OpenVinoBuildError,
    exporter_python,
    openvino_state,
    provision_openvino,
    tools_dir,
)
from rag.models.provision import MANIFEST, ModelState, expected_manifest, model_state
from rag.models.registry import MODELS, ModelSpec

Commands = list[list[str]]


@pytest.fixture
def commands(monkeypatch: pytest.MonkeyPatch) -> Commands:
    """Every command the build runs, in order; venv creation and the export write what they would."""
    ran: Commands = []

    def run(cmd: list[str], what: str, env: dict[str, str], cwd: Path) -> None:
        ran.append(list(cmd))
        assert env["HF_HUB_OFFLINE"] == "1" and "PYTHONPATH" not in env
        if cmd[1:3] == ["-m", "venv"]:
            (Path(cmd[-1]) / "bin").mkdir(parents=True, exist_ok=True)
            (Path(cmd[-1]) / "bin" / "python").write_text("", encoding="utf-8")
        if "export" in cmd:
            out = Path(cmd[-1])
            out.mkdir()
            for name in MODEL_FILES:
                (out / name).write_text(name, encoding="utf-8")

    monkeypatch.setattr(openvino_build, "_run", run)
    return ran


@pytest.fixture
def base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[ModelSpec, ModelState]:
    """A ready (empty) base folder in a temporary cache."""
    spec = replace(MODELS["tiny-random-llama"], name="fake-llama", generator_copies=True)
    (tmp_path / spec.name).mkdir()
    (tmp_path / spec.name / MANIFEST).write_text(json.dumps(expected_manifest(spec)), encoding="utf-8")
    return spec, model_state(spec, tmp_path)


def test_the_exporter_environment_is_made_once_and_again_for_other_pins(
    tmp_path: Path, commands: Commands, monkeypatch: pytest.MonkeyPatch
) -> None:
    python = exporter_python(tmp_path / "tools", tmp_path)
    assert python == tmp_path / "tools" / "openvino-exporter" / "bin" / "python"
    installs = [c for c in commands if "install" in c]
    assert [c[-1] for c in installs] == [openvino_build.EXPORTER_REQUIREMENTS[-1], EXPORTER]
    assert "--no-deps" in installs[1] and any(a.startswith("torch==") for a in installs[0])
    exporter_python(tmp_path / "tools", tmp_path)
    assert len(commands) == 3  # ready: nothing run

    monkeypatch.setattr(openvino_build, "EXPORTER_REQUIREMENTS", ("transformers>=5.5,<5.7",))
    exporter_python(tmp_path / "tools", tmp_path)
    assert len(commands) == 6 and "--clear" in commands[3]


def test_a_failed_install_is_named_and_the_environment_is_made_again(
    tmp_path: Path, commands: Commands, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded = openvino_build._run

    def failing(cmd: list[str], what: str, env: dict[str, str], cwd: Path) -> None:
        recorded(cmd, what, env, cwd)
        if "install" in cmd:
            raise OpenVinoBuildError(f"{what} failed (exit 1):\nNo matching distribution found for nncf")

    monkeypatch.setattr(openvino_build, "_run", failing)
    with pytest.raises(OpenVinoBuildError, match="installing the exporter's requirements"):
        exporter_python(tmp_path / "tools", tmp_path)
    monkeypatch.setattr(openvino_build, "_run", recorded)
    exporter_python(tmp_path / "tools", tmp_path)
    assert sum("venv" in c for c in commands) == 2  # no ready marker: made again


def test_the_copy_is_exported_once_from_the_base_folder(
    base: tuple[ModelSpec, ModelState], commands: Commands
) -> None:
    spec, state = base
    cache = state.path.parent
    built = provision_openvino(spec, state, cache, log=lambda _: None)
    assert built.status == "ready" and built.path.name == "fake-llama-openvino-int8"
    export = next(c for c in commands if "export" in c)
    assert export[export.index("--model") + 1] == str(state.path)
    assert export[export.index("--weight-format") + 1] == "int8"
    assert Path(export[0]).parent == tools_dir(cache) / "openvino-exporter" / "bin"
    manifest = json.loads((built.path / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["builder"] == f"{EXPORTER} int8" and set(manifest["files"]) == set(MODEL_FILES)
    provision_openvino(spec, state, cache, log=lambda _: None)
    assert sum("export" in c for c in commands) == 1


def test_a_failed_export_leaves_nothing_and_a_missing_wheel_skips(
    base: tuple[ModelSpec, ModelState], commands: Commands, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, state = base
    cache = state.path.parent
    recorded = openvino_build._run

    def failing(cmd: list[str], what: str, env: dict[str, str], cwd: Path) -> None:
        if "export" in cmd:
            raise OpenVinoBuildError(f"{what} failed (exit 1):\nKeyError: 'qwen3_next'")
        recorded(cmd, what, env, cwd)

    monkeypatch.setattr(openvino_build, "_run", failing)
    with pytest.raises(OpenVinoBuildError, match="the OpenVINO export of fake-llama"):
        provision_openvino(spec, state, cache, log=lambda _: None)
    assert openvino_state(spec, cache).status == "missing"

    monkeypatch.setattr(openvino_build, "package_version", lambda package: None)
    messages: list[str] = []
    assert provision_openvino(spec, state, cache, log=messages.append).status == "missing"
    assert "openvino-genai ist auf dieser Plattform nicht installiert" in messages[0]


def test_every_copy_engine_has_a_recipe_named_after_it() -> None:
    assert [recipe_for(engine).engine for engine in COPY_ENGINES] == list(COPY_ENGINES)
    with pytest.raises(ValueError, match="no copy is built for engine 'transformers'"):
        recipe_for("transformers")
