"""The lexical member of the engagement classifier: what it learns, how it is stored."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rag.engagement.lexical import LEXICAL_FILE, LexicalModel

MANY = ["Tesla senkt Preise erneut", "Tesla ruft Autos zurück", "Elon Musk kauft Twitter", "Musk und Tesla"]
FEW = ["heise+ | Router im Test", "heise+ | Kameras im Test", "Missing Link: Geschichte", "Router im Test"]


def _fitted() -> LexicalModel:
    train = MANY * 3 + FEW * 3
    labels = np.array([1] * 12 + [0] * 12)
    return LexicalModel.fit(train, labels, MANY + FEW, np.array([1] * 4 + [0] * 4))


def test_learns_the_words_that_decide_and_survives_a_save(tmp_path: Path) -> None:
    model = _fitted()
    probes = ["Tesla und Musk", "heise+ | Drucker im Test"]
    scores = model.log_odds(probes)
    assert scores[0] > 0 > scores[1]
    model.save(tmp_path)
    loaded = LexicalModel.load(tmp_path)
    assert loaded.c == model.c
    np.testing.assert_allclose(loaded.log_odds(probes), scores, atol=1e-4)


def test_a_stored_model_that_does_not_fit_its_vocabulary_is_refused(tmp_path: Path) -> None:
    _fitted().save(tmp_path)
    path = tmp_path / LEXICAL_FILE
    state = json.loads(path.read_text(encoding="utf-8"))
    state["coef"] = state["coef"][:-3]
    path.write_text(json.dumps(state), encoding="utf-8")
    with pytest.raises(ValueError, match=r"lexical\.json: \d+ weights for \d+ n-grams"):
        LexicalModel.load(tmp_path)
