"""Which weight dtype to run a model in on this machine.

Why a setting with `auto`: on CPUs with native bfloat16 (AVX512-BF16, AMX) bf16 halves the time of
the matrix products at the same accuracy for the classifier and reranker (measured by their
benchmarks) and doubles the generator's prompt throughput; on CPUs without it bf16 is emulated and
slower, so `auto` only picks it where the hardware has it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch

DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "bfloat16": torch.bfloat16}


@lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (Linux flags); elsewhere bf16 may be slower."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return any(flag in flags.split() for flag in ("avx512_bf16", "amx_bf16"))


def inference_dtype(setting: str, device: str) -> torch.dtype:
    """The torch dtype for a setting of `auto`, `float32` or `bfloat16`."""
    if setting == "auto":
        return torch.bfloat16 if device == "cpu" and cpu_has_native_bf16() else torch.float32
    if setting not in DTYPES:
        raise ValueError(f"unknown dtype {setting!r}; expected auto or one of {', '.join(DTYPES)}")
    return DTYPES[setting]
