"""Baselines of the classifier report: majority class, TF-IDF + logistic regression, frozen E5 + LR.

Each returns log-odds of "good" for the development and test parts of a split, like the fine-tuned
model, so all models go through the same metrics and the same temperature scaling. Regularization
strength is chosen on the development part by log loss; the test part is never looked at.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from finetune.classifier.data import HeadlineSplit
from rag.engagement.lexical import LexicalModel, logreg_chosen_on_dev


@dataclass(frozen=True)
class Scores:
    """One model's log-odds on a split's development and test parts."""

    model: str
    detail: str
    dev: np.ndarray
    test: np.ndarray


def majority(split: HeadlineSplit) -> Scores:
    """The training prior for every headline: the most frequent class, with its frequency as p."""
    prior = float(split.train.label.mean())
    odds = np.log(prior / (1 - prior))
    return Scores(
        "majority class",
        f"p(good) = {prior:.3f} for all",
        np.full(len(split.dev), odds),
        np.full(len(split.test), odds),
    )


def tfidf_logreg(split: HeadlineSplit) -> Scores:
    """Word 1-2-grams plus character 2-5-grams (within words), sublinear TF-IDF, logistic regression:
    the served classifier's lexical model (``rag/engagement/lexical.py``) on its own."""
    model = LexicalModel.fit(
        split.train.headline.tolist(),
        split.train.label.to_numpy(),
        split.dev.headline.tolist(),
        split.dev.label.to_numpy(),
    )
    return Scores(
        "TF-IDF word+char + LR",
        f"C = {model.c:g}",
        model.log_odds(split.dev.headline.tolist()),
        model.log_odds(split.test.headline.tolist()),
    )


def frozen_embedding_logreg(split: HeadlineSplit, embeddings: np.ndarray) -> Scores:
    """Logistic regression on frozen E5 sentence embeddings (rows indexed like the split frames)."""
    train, dev, test = (embeddings[part.index.to_numpy()] for part in (split.train, split.dev, split.test))
    model = logreg_chosen_on_dev(train, split.train.label.to_numpy(), dev, split.dev.label.to_numpy())
    return Scores(
        "frozen E5 + LR", f"C = {model.C:g}", model.decision_function(dev), model.decision_function(test)
    )
