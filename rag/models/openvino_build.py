"""Build, once per machine, the int8 OpenVINO copy of a provisioned generator (engine ``openvino-int8``).

Why OpenVINO: on this project's CPU (two cores with bf16/int8 matrix units) OpenVINO GenAI reads
the product prompt faster than transformers in bfloat16 and decodes about twice as fast, with the
same greedy answers, in a fraction of the memory (docs/benchmarks.md, Generator engines); onnxruntime-genai
decodes fast too but reads the prompt three times slower than transformers.

The copy is made by Intel's exporter (``optimum-cli export openvino``, int8 weights compressed by
NNCF), which converts the ready transformers folder, so it needs no download of weights. The
exporter pins an older transformers (``<5.6``) than this project runs, so it cannot share the
project's environment: it gets its own virtual environment under ``<model cache>/tools/``, made
once from package registries (torch from the same version as the project's, so the CPU wheel) and
re-made when its pinned requirements change. The exporter writes the model as OpenVINO IR plus
tokenizer/detokenizer IR (``openvino-tokenizers``), which ``openvino-genai`` loads at run time;
the engine itself tokenizes with the base folder's tokenizer, so every engine sees the same ids.

The folder ``<name>-openvino-int8`` follows the rules of every engine copy
(:mod:`rag.models.engine_copies`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from rag.models.engine_copies import CopyBuildError, CopyRecipe, copy_state, package_version, provision_copy
from rag.models.provision import ModelState, locked
from rag.models.registry import ModelSpec

ENGINE = "openvino-int8"
RUNTIME_PACKAGE = "openvino-genai"
# Bump when the export recipe (exporter options, post-processing) changes: cached copies rebuild.
OPENVINO_BUILD_VERSION = 1
EXPORTER = "optimum-intel==2.2.0"
# optimum-intel 2.2.0 declares torchvision, which exporting a text model never imports; without
# it the exporter environment skips a second multi-hundred-MB wheel. So the exporter goes in
# with --no-deps, after what it does need.
EXPORTER_REQUIREMENTS = (
    "transformers>=5.5,<5.6",
    "huggingface-hub>=0.23.2,<1.22",
    "optimum~=2.3.0",
    "nncf>=3.4,<3.5",
    "requests>=2.33,<3",
    "setuptools",
)
# The files openvino-genai loads.
MODEL_FILES = (
    "openvino_model.xml",
    "openvino_model.bin",
    "openvino_tokenizer.xml",
    "openvino_tokenizer.bin",
    "openvino_detokenizer.xml",
    "openvino_detokenizer.bin",
    "generation_config.json",
)
_READY = ".ready"


class OpenVinoBuildError(CopyBuildError):
    """The OpenVINO export failed or cannot run here; the message says why and what to do."""


def openvino_recipe() -> CopyRecipe:
    return CopyRecipe(
        engine=ENGINE,
        package=RUNTIME_PACKAGE,
        builder=f"{EXPORTER} int8",
        builder_version=package_version(RUNTIME_PACKAGE),
        build_version=OPENVINO_BUILD_VERSION,
        model_files=MODEL_FILES,
        duration="int8, ~2 min beim ersten Mal, sonst ~1 min",
        build=lambda base, out, work: _export(base, out, work),
    )


def openvino_state(spec: ModelSpec, cache_dir: Path) -> ModelState:
    """Inspect the OpenVINO copy without hashing it."""
    return copy_state(spec, cache_dir, openvino_recipe())


def provision_openvino(
    spec: ModelSpec, base: ModelState, cache_dir: Path, log: Callable[[str], None] = print
) -> ModelState:
    """Make the OpenVINO copy of a ready base model ready; a no-op when its manifest matches."""
    return provision_copy(spec, base, cache_dir, openvino_recipe(), log)


def exporter_requirements() -> list[str]:
    """What the exporter environment installs, matched to the versions this environment runs."""
    pins = []
    for package in ("torch", "openvino", "openvino-tokenizers"):
        version = package_version(package)
        if version is None:
            raise OpenVinoBuildError(f"the OpenVINO export needs {package}; `pip install -e .` installs it")
        pins.append(f"{package}=={version.split('+')[0]}")
    return [*pins, *EXPORTER_REQUIREMENTS]


def _clean_env(work: Path) -> dict[str, str]:
    """The child's environment: none of this project's Python paths, no hub downloads."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_HOME=str(work / "hf-home"))
    return env


def _run(cmd: Sequence[str], what: str, env: dict[str, str], cwd: Path) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env, cwd=cwd)
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        tail = "\n".join(line for line in lines[-8:] if "is ignored" not in line)
        raise OpenVinoBuildError(f"{what} failed (exit {result.returncode}):\n{tail}")


def exporter_python(tools_dir: Path, work: Path) -> Path:
    """The Python of the exporter environment, made first if missing or made for other pins."""
    requirements = "\n".join([*exporter_requirements(), EXPORTER]) + "\n"
    venv = tools_dir / "openvino-exporter"
    python = venv / "bin" / "python"
    marker = venv / _READY
    if marker.is_file() and marker.read_text(encoding="utf-8") == requirements and python.is_file():
        return python
    tools_dir.mkdir(parents=True, exist_ok=True)
    with locked(tools_dir, "openvino-exporter"):
        if marker.is_file() and marker.read_text(encoding="utf-8") == requirements and python.is_file():
            return python
        env = _clean_env(work)
        _run(
            [sys.executable, "-m", "venv", "--clear", str(venv)],
            "creating the exporter environment",
            env,
            work,
        )
        # --no-compile: byte-compiling its ~12,000 modules took 24 s of set-up; the export imports
        # only a part of them, once.
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile"]
        _run(
            [*pip, *exporter_requirements()], f"installing the exporter's requirements into {venv}", env, work
        )
        _run([*pip, "--no-deps", EXPORTER], f"installing {EXPORTER} into {venv}", env, work)
        marker.write_text(requirements, encoding="utf-8")  # last: a half-made environment is re-made
    return python


def tools_dir(cache_dir: Path) -> Path:
    """Where the exporter environment lives: beside the models of the cache it builds for."""
    return cache_dir / "tools"


def _export(base: Path, out: Path, work: Path) -> None:
    """optimum-intel's exporter, in its own environment (see the module docstring)."""
    python = exporter_python(tools_dir(base.parent), work)
    cmd = [
        str(python.parent / "optimum-cli"), "export", "openvino", "--model", str(base),
        "--task", "text-generation-with-past", "--weight-format", "int8", str(out),
    ]  # fmt: skip
    _run(cmd, f"the OpenVINO export of {base.name} ({EXPORTER})", _clean_env(work), work)
