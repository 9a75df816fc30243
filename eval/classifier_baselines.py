"""Baselines of the classifier report: majority class, TF-IDF + logistic regression, frozen E5 + LR.

Each returns log-odds of "good" for the development and test parts of a split, like the fine-tuned
model, so all models go through the same metrics and the same temperature scaling. Regularization
strength is chosen on the development part by log loss; the test part is never looked at.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse import spmatrix
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, make_pipeline

from eval.classifier_metrics import log_loss
from finetune.headline_data import HeadlineSplit

Features = np.ndarray | spmatrix
C_GRID = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0)


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


def _best_logreg(
    x_train: Features, y_train: pd.Series, x_dev: Features, y_dev: pd.Series, x_test: Features
) -> tuple[float, np.ndarray, np.ndarray]:
    """Logistic regression with the C of lowest development log loss; returns C and log-odds."""
    best: tuple[float, float, np.ndarray, np.ndarray] | None = None
    for c in C_GRID:
        model = LogisticRegression(C=c, max_iter=2000).fit(x_train, y_train)
        dev = model.decision_function(x_dev)
        loss = log_loss(y_dev, dev)
        if best is None or loss < best[0]:
            best = (loss, c, dev, model.decision_function(x_test))
    assert best is not None
    return best[1], best[2], best[3]


def tfidf_logreg(split: HeadlineSplit) -> Scores:
    """Word 1-2-grams plus character 2-5-grams (within words), sublinear TF-IDF, logistic regression."""
    features = FeatureUnion(
        [
            ("word", TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True)),
        ]
    )
    vectorize = make_pipeline(features).fit(split.train.headline)
    c, dev, test = _best_logreg(
        vectorize.transform(split.train.headline),
        split.train.label,
        vectorize.transform(split.dev.headline),
        split.dev.label,
        vectorize.transform(split.test.headline),
    )
    return Scores("TF-IDF word+char + LR", f"C = {c:g}", dev, test)


def frozen_embedding_logreg(split: HeadlineSplit, embeddings: np.ndarray) -> Scores:
    """Logistic regression on frozen E5 sentence embeddings (rows indexed like the split frames)."""
    rows = [part.index.to_numpy() for part in (split.train, split.dev, split.test)]
    c, dev, test = _best_logreg(
        embeddings[rows[0]], split.train.label, embeddings[rows[1]], split.dev.label, embeddings[rows[2]]
    )
    return Scores("frozen E5 + LR", f"C = {c:g}", dev, test)
