"""Int8 storage for float matrices that live in the repository.

Why: committed artifacts must stay a few MB (the reranker's trained layers, the engagement
classifier's neighbour memory); int8 rows with a float16 scale per row are a quarter of float32 and
lose at most 0.4 % of a row's largest value, which neither model notices.
"""

from __future__ import annotations

import torch

SCALE_SUFFIX = ":int8_scale"  # per-row scale of an int8-stored matrix in a slim artifact


def quantize_int8(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Matrices as int8 with a float16 scale per row (absmax / 127), the rest in float16.

    ``dequantize`` restores float32 when the artifact is loaded.
    """
    out: dict[str, torch.Tensor] = {}
    for name, tensor in tensors.items():
        if tensor.dim() != 2:
            out[name] = tensor.to(torch.float16).contiguous()
            continue
        scale = tensor.float().abs().amax(dim=1, keepdim=True).clamp(min=1e-12) / 127
        out[name] = (tensor.float() / scale).round().clamp(-127, 127).to(torch.int8).contiguous()
        out[name + SCALE_SUFFIX] = scale.to(torch.float16).contiguous()
    return out


def dequantize(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Float32 weights from ``quantize_int8``'s output (plain float tensors pass through)."""
    return {
        name: tensor.float() * tensors[name + SCALE_SUFFIX].float()
        if tensor.dtype == torch.int8
        else tensor.float()
        for name, tensor in tensors.items()
        if not name.endswith(SCALE_SUFFIX)
    }
