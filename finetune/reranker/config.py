"""Training settings of the reranker, apart from the training code so the CLI reads its defaults
without importing torch."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrainConfig:
    layers: int = 2
    max_length: int = 128
    focus_chars: int | None = 400  # each passage cut to its most query-like sentences (None: its start)
    epochs: int = 1
    batch_size: int = 8
    learning_rate: float = 1e-4
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    in_batch_negatives: int = 1
    seed: int = 13
