"""The engagement classifier's blend and its neighbour vote: what they weigh, how they are stored."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

from rag.engagement.blend import ENCODER, LEXICAL, NEIGHBOURS, Blend, EncoderScores, member_log_odds
from rag.engagement.neighbours import NEIGHBOURS_FILE, NeighbourVote, mean_pool


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _clusters(
    rng: np.random.Generator, n: int, centres: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Tight clusters of embeddings, one per label, around ``centres`` (random ones in 16 dimensions
    when not given)."""
    centres = _unit(rng.normal(size=(2, 16))) if centres is None else centres
    labels = rng.integers(0, 2, n)
    return _unit(centres[labels] + rng.normal(0, 0.05, (n, 16))).astype(np.float32), labels


def test_blend_weighs_the_more_informative_scores_higher() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 600)
    signal = np.where(labels == 1, 1.0, -1.0)
    strong = 2.0 * signal + rng.normal(0, 1.0, 600)
    weak = 0.5 * signal + rng.normal(0, 2.0, 600)
    noise = rng.normal(0, 1.0, 600)
    blend = Blend.fit({ENCODER: strong, LEXICAL: weak, NEIGHBOURS: noise}, labels)
    assert blend.weights[ENCODER] > blend.weights[LEXICAL] > abs(blend.weights[NEIGHBOURS])
    assert blend.describe().startswith(f"{blend.weights[ENCODER]:.2f} x encoder + ")
    # on the data it was fitted on, the blend is at least as likely as the stronger scores alone
    alone = LogisticRegression(C=100.0).fit(strong[:, None], labels).decision_function(strong[:, None])
    combined = blend.combine({ENCODER: strong, LEXICAL: weak, NEIGHBOURS: noise})
    assert log_loss(labels, expit(combined)) <= log_loss(labels, expit(alone))
    with pytest.raises(KeyError, match="neighbours"):
        blend.combine({ENCODER: strong, LEXICAL: weak})


def test_neighbour_vote_follows_the_nearest_labels_and_stays_finite() -> None:
    rng = np.random.default_rng(1)
    centres = _unit(rng.normal(size=(2, 16)))
    memory, labels = _clusters(rng, 200, centres)
    vote = NeighbourVote.from_embeddings(memory, labels)
    queries, truth = _clusters(rng, 50, centres)  # new headlines: same clusters, none in the memory
    assert not np.isclose(queries @ memory.T, 1.0).any()
    odds = vote.log_odds(queries)
    assert np.all(np.isfinite(odds))
    assert ((odds > 0) == (truth == 1)).all()
    # 30 unanimous neighbours, shrunk toward the base rate by two pseudo-votes: p = (30 + 2 m) / 32
    base = labels.mean()
    assert expit(odds.max()) == pytest.approx((30 + 2 * base) / 32, abs=1e-6)
    # a memory smaller than k votes with all it has
    small = NeighbourVote.from_embeddings(memory[:5], labels[:5])
    assert small.log_odds(queries[:3]).shape == (3,)


def test_neighbour_memory_is_int8_on_disk_and_loads_as_fitted(tmp_path: Path) -> None:
    memory, labels = _clusters(np.random.default_rng(3), 300)
    vote = NeighbourVote.from_embeddings(memory, labels)
    path = vote.save(tmp_path)
    assert path.name == NEIGHBOURS_FILE
    assert path.stat().st_size < memory.nbytes / 3  # int8 rows, not float32
    loaded = NeighbourVote.load(tmp_path)
    np.testing.assert_array_equal(loaded.labels, vote.labels)
    np.testing.assert_allclose(loaded.log_odds(memory[:20]), vote.log_odds(memory[:20]), atol=1e-6)
    assert (loaded.k, loaded.temperature, loaded.prior_weight) == (
        vote.k,
        vote.temperature,
        vote.prior_weight,
    )
    with pytest.raises(ValueError, match="one label per embedding"):
        NeighbourVote.from_embeddings(memory, labels[:-1])


def test_the_neighbour_member_reads_the_encoder_pass_embeddings() -> None:
    memory, labels = _clusters(np.random.default_rng(4), 50)
    vote = NeighbourVote.from_embeddings(memory, labels)
    encoder = EncoderScores(np.array([0.5, -0.5]), memory[:2])
    scores = member_log_odds(encoder, ["a", "b"], None, vote)
    assert set(scores) == {ENCODER, NEIGHBOURS}
    np.testing.assert_array_equal(scores[ENCODER], encoder.log_odds)
    np.testing.assert_allclose(scores[NEIGHBOURS], vote.log_odds(memory[:2]))


def test_mean_pool_ignores_padding() -> None:
    states = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [9.0, 9.0]]])
    mask = torch.tensor([[1, 1, 0]])
    pooled = mean_pool(states, mask)
    torch.testing.assert_close(pooled, torch.tensor([[2**-0.5, 2**-0.5]]))
