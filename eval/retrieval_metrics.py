"""Ranking metrics at the article level, with bootstrap confidence intervals.

A question counts as found at rank r when the r-th retrieved article is one of its gold articles;
``None`` means no gold article came back within the cut-off.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def first_gold_rank(ranked_ids: Sequence[str], gold: Sequence[str]) -> int | None:
    return next((i for i, aid in enumerate(ranked_ids, start=1) if aid in gold), None)


def recall_at(ranked_ids: Sequence[str], gold: Sequence[str], k: int) -> float:
    """Share of gold articles among the top k (multi-answer questions count partially)."""
    return len(set(ranked_ids[:k]) & set(gold)) / len(set(gold))


def reciprocal_rank(ranked_ids: Sequence[str], gold: Sequence[str], k: int = 10) -> float:
    rank = first_gold_rank(ranked_ids[:k], gold)
    return 1.0 / rank if rank else 0.0


def ndcg_at(ranked_ids: Sequence[str], gold: Sequence[str], k: int = 10) -> float:
    """Binary-relevance nDCG: every gold article is equally relevant."""
    gains = sum(1.0 / math.log2(i + 1) for i, aid in enumerate(ranked_ids[:k], start=1) if aid in gold)
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(len(set(gold)), k) + 1))
    return gains / ideal


def bootstrap_ci(values: Sequence[float], samples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95 % percentile interval of the mean over questions resampled with replacement."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(samples, data.size))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else math.nan
