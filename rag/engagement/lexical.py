"""The lexical half of the engagement classifier: TF-IDF word and character n-grams with logistic
regression, stored as plain JSON.

Why it exists beside the fine-tuned encoder: recurring heise formats and names ("heise+ |",
"Missing Link", "Tesla", "Bundesnetzagentur") are exact strings that decide the comment count, and
a linear model on n-grams catches them where the small encoder's sub-word view blurs them. Its
errors differ from the encoder's, so a weighted sum of both log-odds (weights fitted on the
development data, ``rag.engagement.blend``) is more accurate than either, for microseconds per
headline. Why JSON and not a pickle: the artifact is committed and loaded by every user; JSON cannot
run code when loaded.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.sparse import hstack, spmatrix
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

Features = np.ndarray | spmatrix
LEXICAL_FILE = "lexical.json"
C_GRID = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0)


def _vectorizers(
    vocabularies: tuple[dict[str, int], dict[str, int]] | None = None,
) -> tuple[TfidfVectorizer, TfidfVectorizer]:
    """Word 1-2-grams and character 2-5-grams within words, sublinear TF-IDF (fixed vocabularies when
    given)."""
    word_vocab, char_vocab = vocabularies or (None, None)
    return (
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, vocabulary=word_vocab),
        TfidfVectorizer(
            analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True, vocabulary=char_vocab
        ),
    )


def _features(word: TfidfVectorizer, char: TfidfVectorizer, headlines: Sequence[str]) -> spmatrix:
    """Word and character n-gram columns side by side, as the regression was fitted on them."""
    return hstack([word.transform(headlines), char.transform(headlines)]).tocsr()


def logreg_chosen_on_dev(
    x_train: Features, y_train: np.ndarray, x_dev: Features, y_dev: np.ndarray
) -> LogisticRegression:
    """Logistic regression with the C of ``C_GRID`` that gives the lowest log loss on the dev part."""
    best: tuple[float, LogisticRegression] | None = None
    for c in C_GRID:
        regression = LogisticRegression(C=c, max_iter=2000).fit(x_train, y_train)
        loss = log_loss(y_dev, regression.predict_proba(x_dev)[:, 1], labels=[0, 1])
        if best is None or loss < best[0]:
            best = (loss, regression)
    assert best is not None
    return best[1]


@dataclass
class LexicalModel:
    """Fitted vectorizers and logistic regression; ``log_odds`` scores headlines."""

    word: TfidfVectorizer
    char: TfidfVectorizer
    coef: np.ndarray
    intercept: float
    c: float

    def log_odds(self, headlines: Sequence[str]) -> np.ndarray:
        return np.asarray(_features(self.word, self.char, headlines) @ self.coef).ravel() + self.intercept

    @classmethod
    def fit(
        cls,
        train: Sequence[str],
        train_labels: np.ndarray,
        dev: Sequence[str],
        dev_labels: np.ndarray,
    ) -> LexicalModel:
        """Fit on ``train``; the regularization strength C is the one of lowest log loss on ``dev``."""
        word, char = _vectorizers()
        x_train = hstack([word.fit_transform(train), char.fit_transform(train)]).tocsr()
        x_dev = _features(word, char, dev)
        regression = logreg_chosen_on_dev(x_train, train_labels, x_dev, dev_labels)
        coef = regression.coef_.ravel().copy()
        return cls(word, char, coef, float(regression.intercept_[0]), float(regression.C))

    def save(self, folder: Path) -> Path:
        path = folder / LEXICAL_FILE
        state = {
            "word_vocabulary": {k: int(v) for k, v in self.word.vocabulary_.items()},
            "word_idf": [round(float(v), 6) for v in self.word.idf_],
            "char_vocabulary": {k: int(v) for k, v in self.char.vocabulary_.items()},
            "char_idf": [round(float(v), 6) for v in self.char.idf_],
            "coef": [round(float(v), 6) for v in self.coef],
            "intercept": self.intercept,
            "c": self.c,
        }
        path.write_text(json.dumps(state, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
        return path

    @classmethod
    def load(cls, folder: Path) -> LexicalModel:
        state = json.loads((folder / LEXICAL_FILE).read_text(encoding="utf-8"))
        word, char = _vectorizers((state["word_vocabulary"], state["char_vocabulary"]))
        word.idf_ = np.asarray(state["word_idf"])
        char.idf_ = np.asarray(state["char_idf"])
        expected = len(state["word_idf"]) + len(state["char_idf"])
        if len(state["coef"]) != expected:
            raise ValueError(f"{folder / LEXICAL_FILE}: {len(state['coef'])} weights for {expected} n-grams")
        return cls(word, char, np.asarray(state["coef"]), float(state["intercept"]), float(state["c"]))
