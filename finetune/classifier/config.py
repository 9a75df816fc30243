"""Hyper-parameters of the engagement classifier, apart from the training code.

Why a module of its own: the CLI takes its option defaults from here without importing torch and peft.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters; the defaults are the recipe of the committed model."""

    base_model: str = "multilingual-e5-small"
    max_length: int = 48
    top_layers: int = 12
    lora_rank: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.1
    learning_rate: float = 5e-4
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    batch_size: int = 32
    epochs: int = 3
    patience: int = 1
    max_grad_norm: float = 1.0
    seed: int = 42
    # Members of a model soup: trained from the same initial weights, data order and dropout drawn
    # from seed, seed + 1, ...; the saved adapter is the mean of their weights (one model's cost).
    soup: int = 2
    device: str = "cpu"
