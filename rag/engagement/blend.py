"""The served engagement score: a weighted sum of its members' log-odds.

Why a blend: the fine-tuned encoder's head, the TF-IDF model (``engagement_lexical``) and the vote of
the nearest training headlines (``engagement_neighbours``) make different mistakes; a logistic
regression of the labels on their log-odds, fitted on development data that none of them was
trained on, weighs each by what it adds. The weights are stored by member name in
``classifier.json``, so an artifact names the members it needs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from sklearn.linear_model import LogisticRegression

from rag.engagement.lexical import LexicalModel
from rag.engagement.neighbours import NeighbourVote

ENCODER, LEXICAL, NEIGHBOURS = "encoder", "lexical", "neighbours"
MEMBER_NAMES = {ENCODER: "encoder", LEXICAL: "TF-IDF", NEIGHBOURS: "neighbour vote"}


class EncoderScores(NamedTuple):
    """One forward pass of the fine-tuned encoder: its log-odds and its sentence embeddings."""

    log_odds: np.ndarray  # (headlines,)
    embeddings: np.ndarray  # (headlines, hidden), mean-pooled last layer, L2-normalized


def member_log_odds(
    encoder: EncoderScores,
    headlines: Sequence[str],
    lexical: LexicalModel | None,
    neighbours: NeighbourVote | None,
) -> dict[str, np.ndarray]:
    """Every available member's log-odds for the same headlines, by member name."""
    scores = {ENCODER: encoder.log_odds}
    if lexical is not None:
        scores[LEXICAL] = lexical.log_odds(headlines)
    if neighbours is not None:
        scores[NEIGHBOURS] = neighbours.log_odds(encoder.embeddings)
    return scores


@dataclass(frozen=True)
class Blend:
    """``sum(weights[m] * log-odds of m) + bias`` over the named members."""

    weights: dict[str, float]
    bias: float

    def combine(self, scores: Mapping[str, np.ndarray]) -> np.ndarray:
        missing = self.weights.keys() - scores.keys()
        if missing:
            raise KeyError(f"blend needs the member(s) {sorted(missing)}")
        return sum((w * scores[m] for m, w in self.weights.items()), np.asarray(self.bias))

    def describe(self) -> str:
        """E.g. ``0.31 x encoder + 0.30 x TF-IDF + 0.45 x neighbour vote``."""
        return " + ".join(f"{w:.2f} x {MEMBER_NAMES.get(m, m)}" for m, w in self.weights.items())

    @classmethod
    def fit(cls, scores: Mapping[str, np.ndarray], labels: np.ndarray) -> Blend:
        """Logistic regression of the labels on the members' log-odds (development data: no member
        was fitted on it), nearly unregularized: a handful of numbers from hundreds of headlines."""
        names = list(scores)
        features = np.column_stack([scores[m] for m in names])
        regression = LogisticRegression(C=100.0, max_iter=1000).fit(features, labels)
        weights = dict(zip(names, map(float, regression.coef_.ravel()), strict=True))
        return cls(weights, float(regression.intercept_[0]))
