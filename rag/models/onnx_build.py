"""Build, once per machine, an int8 or int4 ONNX copy of a provisioned generator for onnxruntime-genai.

Why: on a CPU, onnxruntime-genai decodes Qwen2.5-0.5B about three times faster than transformers
in bfloat16 (int8 weights: the same greedy answers; int4: faster still, but most answers change;
see the README's generator benchmark). The copy is derived from the ready transformers folder with
the runtime's own model builder, so it needs no other download.

The derived folder sits next to its base (``<name>-onnx-int8``, ``<name>-onnx-int4``) and follows
provisioning's rules:
it is built in a staging folder and moved into place whole, with a manifest written last that
records the base model's identity, this module's build version, the builder's version and the
sha256 and size of every file. A folder without that manifest (an interrupted build), or whose
manifest names another base, build version or builder version (an older converter), or whose
files differ in size from the manifest, is not ``ready``: the engine falls back to transformers
and the next ``heise-rag models provision --onnx`` rebuilds it.
"""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
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

# Bump when the build recipe (builder options, post-processing) changes: cached folders rebuild.
# 2: prune_lm_head.
ONNX_BUILD_VERSION = 2
OnnxPrecision = Literal["int8", "int4"]
PRECISIONS: tuple[OnnxPrecision, ...] = get_args(OnnxPrecision)
RUNTIME_PACKAGE = "onnxruntime-genai"
# The runtime's builder imports these at build time only.
BUILD_PACKAGES = ("onnx", "onnx-ir")
# The files the runtime loads; the builder also writes tokenizer files we do not use (the engine
# tokenizes with the base folder's tokenizer, so both engines see the same ids).
MODEL_FILES = ("genai_config.json", "model.onnx", "model.onnx.data")


def onnx_precision(engine: str) -> OnnxPrecision | None:
    """The precision of an ONNX engine setting (``onnx-int8`` -> ``int8``); None for transformers."""
    return next((p for p in PRECISIONS if engine == f"onnx-{p}"), None)


class OnnxBuildError(RuntimeError):
    """The ONNX build failed or cannot run here; the message says why and what to do."""


def runtime_version() -> str | None:
    """The installed onnxruntime-genai version, or None where its wheel is not installed."""
    try:
        return importlib.metadata.version(RUNTIME_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return None


def onnx_path(spec: ModelSpec, cache_dir: Path, precision: OnnxPrecision = "int4") -> Path:
    return cache_dir / f"{spec.name}-onnx-{precision}"


def _expected(spec: ModelSpec, builder_version: str | None, precision: OnnxPrecision) -> dict[str, object]:
    return {
        "name": f"{spec.name}-onnx-{precision}",
        "base": expected_manifest(spec),
        "build_version": ONNX_BUILD_VERSION,
        "builder": f"{RUNTIME_PACKAGE} {precision} cpu",
        "builder_version": builder_version,
    }


def onnx_state(spec: ModelSpec, cache_dir: Path, precision: OnnxPrecision = "int4") -> ModelState:
    """Inspect the derived folder without hashing it (reads the manifest and stats three files)."""
    path = onnx_path(spec, cache_dir, precision)
    if not path.exists():
        return ModelState(spec, path, "missing", 0)
    try:
        recorded = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return ModelState(spec, path, "incomplete", folder_size(path))
    files = recorded.get("files", {})
    intact = all(
        (path / name).is_file() and (path / name).stat().st_size == files.get(name, {}).get("size")
        for name in MODEL_FILES
    )
    wanted = _expected(spec, runtime_version(), precision)
    status: Status = "ready" if all(recorded.get(k) == v for k, v in wanted.items()) else "stale"
    if not intact:
        status = "incomplete"
    return ModelState(spec, path, status, int(recorded.get("size_bytes", 0)))


def _run_builder(base: Path, out: Path, work: Path, precision: OnnxPrecision) -> None:
    """The runtime's builder in a child process: its peak memory (~2.5 GB) is not kept by ours."""
    missing = [p for p in BUILD_PACKAGES if _missing(p)]
    if missing:
        raise OnnxBuildError(f"the ONNX builder needs {', '.join(missing)}; `pip install -e .` installs it")
    cmd = [
        sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", str(base), "-o", str(out),
        "-p", precision, "-e", "cpu", "-c", str(work / "hf-cache"),
        # The output layer only for the last prompt position: Qwen2.5-0.5B's 151,936 x 896 head is
        # about a quarter of prompt processing when it runs for every position; the first token
        # came about 25 % sooner here, with the same greedy tokens.
        "--extra_options", "prune_lm_head=true",
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=work)
    if result.returncode != 0 or not all((out / name).is_file() for name in MODEL_FILES):
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-6:])
        raise OnnxBuildError(f"the onnxruntime-genai builder failed (exit {result.returncode}):\n{tail}")


def _missing(package: str) -> bool:
    try:
        importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return True
    return False


def provision_onnx(
    spec: ModelSpec,
    base: ModelState,
    cache_dir: Path,
    log: Callable[[str], None] = print,
    precision: OnnxPrecision = "int4",
) -> ModelState:
    """Make the ONNX folder of a ready base model ready; a no-op when its manifest matches.

    Where the runtime's wheel is missing, log that and return the state unchanged rather than
    fail: the transformers engine still answers, only slower.
    """
    state = onnx_state(spec, cache_dir, precision)
    if state.status == "ready":
        return state
    builder_version = runtime_version()
    if builder_version is None:
        log(
            f"{state.path.name}: übersprungen, {RUNTIME_PACKAGE} ist auf dieser Plattform nicht installiert; "
            "die Antworten laufen über transformers (langsamer)"
        )
        return state
    with locked(cache_dir, state.path.name):
        state = onnx_state(spec, cache_dir, precision)
        if state.status == "ready":
            return state
        log(
            f"{state.path.name}: {STATUS_LABELS[state.status]}, "
            f"wird aus {base.path.name} gebaut ({precision}, ~1 min)"
        )
        with tempfile.TemporaryDirectory(prefix=f".staging-{state.path.name}-", dir=cache_dir) as tmp:
            staging = Path(tmp)
            out = staging / "out"
            _run_builder(base.path, out, staging, precision)
            manifest = _expected(spec, builder_version, precision) | {
                "files": {
                    name: {"sha256": sha256_file(out / name), "size": (out / name).stat().st_size}
                    for name in MODEL_FILES
                },
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "size_bytes": folder_size(out),
            }
            (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
            if state.path.exists():
                shutil.rmtree(state.path)
            out.rename(state.path)
    log(f"{state.path.name}: bereit in {state.path}")
    return onnx_state(spec, cache_dir, precision)
