"""The neighbour vote of the engagement classifier: how the most similar training headlines fared.

Why it exists beside the fine-tuned head: the head draws one linear boundary through the fine-tuned
embedding space, but heise's recurring stories (the next headline on the same product, company or
politician) sit in tight clusters whose comment counts a single boundary averages away. A
similarity-weighted vote of the nearest training headlines in the same space recovers them, and it
costs no extra model pass: the embedding is the mean-pooled last layer of the forward pass that
yields the encoder's own log-odds. Its errors differ from the head's, so the blend (``Blend``)
weighs both.

Stored: ``neighbours.safetensors`` with the int8 embeddings of the training headlines (derived
vectors, no text) and their labels, about 3 MB for the reference split.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from scipy.special import logit

from rag.models.int8 import dequantize, quantize_int8

NEIGHBOURS_FILE = "neighbours.safetensors"


def mean_pool(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the real tokens, L2-normalized: E5's sentence embedding, for any layer's output."""
    weights = mask.unsqueeze(-1).to(states.dtype)
    pooled = (states * weights).sum(1) / weights.sum(1).clamp(min=1)
    return torch.nn.functional.normalize(pooled.float(), dim=-1)


@dataclass(frozen=True)
class NeighbourVote:
    """Log-odds of "good" from the ``k`` most similar memory headlines (cosine similarity).

    Each neighbour's vote is weighted by ``softmax(similarity / temperature)``, so near-duplicates
    dominate; the share of "good" is shrunk toward the memory's base rate by ``prior_weight``
    pseudo-votes, so a vote of 30 unanimous neighbours stays a finite log-odds. The defaults were
    chosen by 10-fold cross-validation on the reference split's dev part (k 10..100, temperature
    0.01..0.1); the blend weight is fitted per artifact.
    """

    embeddings: np.ndarray  # (memory, dim) float32, rows L2-normalized
    labels: np.ndarray  # (memory,) 0 = bad, 1 = good
    k: int = 30
    temperature: float = 0.02
    prior_weight: float = 2.0

    @classmethod
    def from_embeddings(cls, embeddings: np.ndarray, labels: np.ndarray) -> NeighbourVote:
        """A memory as it is stored and served: the embeddings pass through int8 once."""
        rows = torch.as_tensor(np.asarray(embeddings, dtype=np.float32))
        stored = dequantize(quantize_int8({"embeddings": rows}))["embeddings"].numpy()
        if len(stored) != len(labels) or len(stored) == 0:
            raise ValueError(
                f"neighbour memory needs one label per embedding ({len(stored)} vs {len(labels)})"
            )
        # a copy: torch reads the labels, and pandas may hand out a read-only array
        return cls(stored, np.array(labels, dtype=np.int64))

    def log_odds(self, queries: np.ndarray) -> np.ndarray:
        """One log-odds per row of ``queries`` (L2-normalized embeddings from the same model).

        Computed with torch, not numpy: numpy's BLAS threads and torch's threads, alternating call by
        call on the same cores, made one headline's prediction ten times slower (measured here)."""
        k = min(self.k, len(self.labels))
        rows = torch.from_numpy(np.ascontiguousarray(queries, dtype=np.float32))
        similarity = rows @ torch.from_numpy(self.embeddings).T
        nearest, index = similarity.topk(k, dim=1)
        weights = torch.softmax(nearest / self.temperature, dim=1)
        share = (weights * torch.from_numpy(self.labels)[index]).sum(dim=1).double().numpy()
        p = (share * k + self.labels.mean() * self.prior_weight) / (k + self.prior_weight)
        return np.asarray(logit(p), dtype=np.float64)

    def save(self, folder: Path) -> Path:
        path = folder / NEIGHBOURS_FILE
        tensors = quantize_int8({"embeddings": torch.as_tensor(self.embeddings)})
        tensors["labels"] = torch.from_numpy(self.labels.astype(np.uint8))
        params = {
            "k": str(self.k),
            "temperature": str(self.temperature),
            "prior_weight": str(self.prior_weight),
        }
        save_file(tensors, path, metadata=params)
        return path

    @classmethod
    def load(cls, folder: Path) -> NeighbourVote:
        path = folder / NEIGHBOURS_FILE
        tensors = load_file(path)
        with safe_open(str(path), framework="pt") as handle:
            params = handle.metadata() or {}
        labels = tensors.pop("labels").to(torch.int64).numpy()
        embeddings = dequantize(tensors)["embeddings"].numpy()
        if len(embeddings) != len(labels) or not {"k", "temperature", "prior_weight"} <= params.keys():
            raise ValueError(
                f"{path}: {len(embeddings)} embeddings, {len(labels)} labels, parameters {params}"
            )
        return cls(
            embeddings, labels, int(params["k"]), float(params["temperature"]), float(params["prior_weight"])
        )
