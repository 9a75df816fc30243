"""Derived copies of a provisioned generator for the optimized engines: build once, check cheaply.

Why one module: the int8/int4 ONNX copies (:mod:`rag.models.onnx_build`) and the int8 OpenVINO copy
(:mod:`rag.models.openvino_build`) are built from the same ready transformers folder by different
tools, but are kept by the same rules, the rules of provisioning:

* built in a staging folder and moved into place whole, with a manifest written last that records
  the base model's identity, the recipe's build version, the builder and its version, and the
  sha256 and size of every file the engine loads;
* a folder without that manifest (an interrupted build), or whose manifest names another base,
  build version or builder version (an older converter), or whose files differ in size from the
  manifest, is not ``ready``: the engine falls back to transformers and the next
  ``heise-rag models provision`` rebuilds it;
* where the engine's runtime wheel is not installed (another platform), the build is skipped with
  a message instead of failing: the transformers engine still answers, only slower.

The folder sits next to its base and is named after the engine: ``<name>-onnx-int8``,
``<name>-openvino-int8``.
"""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, get_args

from rag.core.checksums import sha256_file
from rag.models.provision import (
    MANIFEST,
    STATUS_LABELS,
    ModelState,
    Status,
    expected_manifest,
    folder_size,
    locked,
)
from rag.models.registry import ModelSpec

CopyEngine = Literal["onnx-int8", "onnx-int4", "openvino-int8"]
COPY_ENGINES: tuple[CopyEngine, ...] = get_args(CopyEngine)


class CopyBuildError(RuntimeError):
    """A copy's build failed or cannot run here; the message says why and what to do."""


@dataclass(frozen=True)
class CopyRecipe:
    """How one engine's copy is built and recognised.

    ``build(base, out, work)`` writes the copy of the base folder ``base`` into the new folder
    ``out``, using ``work`` for scratch files, and raises :class:`CopyBuildError` on failure.
    ``builder_version`` is the installed version of ``package`` (None: not installed here).
    """

    engine: str
    package: str
    builder: str
    builder_version: str | None
    build_version: int
    model_files: tuple[str, ...]
    duration: str
    build: Callable[[Path, Path, Path], None]


def package_version(package: str) -> str | None:
    """The installed version of a distribution, or None where its wheel is not installed."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def recipe_for(engine: str) -> CopyRecipe:
    """The recipe of an engine's copy (imported lazily: each pulls its own runtime's helpers)."""
    if engine == "openvino-int8":
        from rag.models.openvino_build import openvino_recipe

        return openvino_recipe()
    from rag.models.onnx_build import onnx_precision, onnx_recipe

    precision = onnx_precision(engine)
    if precision is None:
        raise ValueError(f"no copy is built for engine {engine!r}; expected one of {', '.join(COPY_ENGINES)}")
    return onnx_recipe(precision)


def copy_path(spec: ModelSpec, cache_dir: Path, engine: str) -> Path:
    return cache_dir / f"{spec.name}-{engine}"


def _expected(spec: ModelSpec, recipe: CopyRecipe) -> dict[str, object]:
    return {
        "name": f"{spec.name}-{recipe.engine}",
        "base": expected_manifest(spec),
        "build_version": recipe.build_version,
        "builder": recipe.builder,
        "builder_version": recipe.builder_version,
    }


def manifest_state(
    spec: ModelSpec, path: Path, model_files: tuple[str, ...], wanted: dict[str, object]
) -> ModelState:
    """The state of a derived folder from its manifest, without hashing: ``missing``, ``incomplete``
    (no manifest, or a loaded file of another size), ``stale`` (the manifest disagrees with
    ``wanted``) or ``ready``. Shared with the E5 encoder's ONNX copy (:mod:`rag.models.e5_onnx`)."""
    if not path.exists():
        return ModelState(spec, path, "missing", 0)
    try:
        recorded = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return ModelState(spec, path, "incomplete", folder_size(path))
    files = recorded.get("files", {})
    intact = all(
        (path / name).is_file() and (path / name).stat().st_size == files.get(name, {}).get("size")
        for name in model_files
    )
    status: Status = "ready" if all(recorded.get(k) == v for k, v in wanted.items()) else "stale"
    if not intact:
        status = "incomplete"
    return ModelState(spec, path, status, int(recorded.get("size_bytes", 0)))


def copy_state(spec: ModelSpec, cache_dir: Path, recipe: CopyRecipe) -> ModelState:
    """Inspect the copy without hashing it (reads the manifest and stats the engine's files)."""
    path = copy_path(spec, cache_dir, recipe.engine)
    return manifest_state(spec, path, recipe.model_files, _expected(spec, recipe))


def provision_copy(
    spec: ModelSpec,
    base: ModelState,
    cache_dir: Path,
    recipe: CopyRecipe,
    log: Callable[[str], None] = print,
) -> ModelState:
    """Make the copy of a ready base model ready; a no-op when its manifest matches.

    Where the runtime's wheel is missing, log that and return the state unchanged rather than
    fail: the transformers engine still answers, only slower.
    """
    state = copy_state(spec, cache_dir, recipe)
    if state.status == "ready":
        return state
    if recipe.builder_version is None:
        log(
            f"{state.path.name}: übersprungen, {recipe.package} ist auf dieser Plattform nicht installiert; "
            "die Antworten laufen über transformers (langsamer)"
        )
        return state
    with locked(cache_dir, state.path.name):
        state = copy_state(spec, cache_dir, recipe)
        if state.status == "ready":
            return state
        status = STATUS_LABELS[state.status]
        log(f"{state.path.name}: {status}, wird aus {base.path.name} gebaut ({recipe.duration})")
        with tempfile.TemporaryDirectory(prefix=f".staging-{state.path.name}-", dir=cache_dir) as tmp:
            staging = Path(tmp)
            out = staging / "out"
            recipe.build(base.path, out, staging)
            missing = [name for name in recipe.model_files if not (out / name).is_file()]
            if missing:
                raise CopyBuildError(f"{recipe.builder} wrote no {', '.join(missing)}")
            manifest = _expected(spec, recipe) | {
                "files": {
                    name: {"sha256": sha256_file(out / name), "size": (out / name).stat().st_size}
                    for name in recipe.model_files
                },
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "size_bytes": folder_size(out),
            }
            (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
            if state.path.exists():
                shutil.rmtree(state.path)
            out.rename(state.path)
    log(f"{state.path.name}: bereit in {state.path}")
    return copy_state(spec, cache_dir, recipe)
