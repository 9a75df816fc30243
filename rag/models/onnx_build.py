"""Build, once per machine, an int8 or int4 ONNX copy of a provisioned generator for onnxruntime-genai.

Why: on a CPU, onnxruntime-genai decodes Qwen2.5-0.5B about three times faster than transformers
in bfloat16 (int8 weights: the same greedy answers; int4: faster still, but most answers change;
see docs/benchmarks.md, Generator engines). The copy is derived from the ready transformers folder with
the runtime's own model builder, so it needs no other download. It is kept like every engine copy
(``<name>-onnx-int8``, ``<name>-onnx-int4``; manifest last, rebuilt when stale, skipped where the
runtime is missing): see :mod:`rag.models.engine_copies`.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Literal, get_args

from rag.models.engine_copies import (
    CopyBuildError,
    CopyRecipe,
    copy_path,
    copy_state,
    package_version,
    provision_copy,
)
from rag.models.provision import ModelState
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


class OnnxBuildError(CopyBuildError):
    """The ONNX build failed or cannot run here; the message says why and what to do."""


def runtime_version() -> str | None:
    """The installed onnxruntime-genai version, or None where its wheel is not installed."""
    return package_version(RUNTIME_PACKAGE)


def onnx_recipe(precision: OnnxPrecision) -> CopyRecipe:
    return CopyRecipe(
        engine=f"onnx-{precision}",
        package=RUNTIME_PACKAGE,
        builder=f"{RUNTIME_PACKAGE} {precision} cpu",
        builder_version=runtime_version(),
        build_version=ONNX_BUILD_VERSION,
        model_files=MODEL_FILES,
        duration=f"{precision}, ~1 min",
        build=lambda base, out, work: _run_builder(base, out, work, precision),
    )


def onnx_path(spec: ModelSpec, cache_dir: Path, precision: OnnxPrecision = "int4") -> Path:
    return copy_path(spec, cache_dir, f"onnx-{precision}")


def onnx_state(spec: ModelSpec, cache_dir: Path, precision: OnnxPrecision = "int4") -> ModelState:
    """Inspect the derived folder without hashing it (reads the manifest and stats three files)."""
    return copy_state(spec, cache_dir, onnx_recipe(precision))


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
    return package_version(package) is None


def provision_onnx(
    spec: ModelSpec,
    base: ModelState,
    cache_dir: Path,
    log: Callable[[str], None] = print,
    precision: OnnxPrecision = "int4",
) -> ModelState:
    """Make the ONNX folder of a ready base model ready; a no-op when its manifest matches."""
    return provision_copy(spec, base, cache_dir, onnx_recipe(precision), log)
