from __future__ import annotations

import numpy as np
import pytest

from infinstruct.recommend.signals import (
    CoOccurrence,
    History,
    history_weights,
    popularity,
    text_scores,
)


def test_recency_counts_distinct_timestamps_back_from_the_latest() -> None:
    ts = np.array([10.0, 20.0, 20.0, 30.0])
    w = history_weights(np.full(4, 5.0), ts, half_life=1.0, rating_power=0.0)
    assert w.tolist() == [0.25, 0.5, 0.5, 1.0]  # same second, same weight
    assert history_weights(np.full(4, 5.0), ts, half_life=None, rating_power=0.0).tolist() == [1.0] * 4


def test_ratings_weigh_by_power_and_implicit_counts_as_top() -> None:
    w = history_weights(np.array([5.0, 2.5, np.nan]), np.zeros(3), half_life=None, rating_power=2.0)
    assert w == pytest.approx([1.0, 0.25, 1.0])


def test_cooccurrence_equals_brute_force_item_cosine() -> None:
    rng = np.random.default_rng(0)
    dense = (rng.random((30, 12)) < 0.3).astype(float)
    dense[:, 11] = 0  # an item nobody chose
    users, items = np.nonzero(dense)
    cooc = CoOccurrence(users, items, n_users=30, n_items=12)
    counts = dense.sum(0)
    norm = np.where(counts > 0, 1 / np.sqrt(np.maximum(counts, 1)), 0)
    cosine = (dense.T @ dense) * norm[:, None] * norm[None, :]
    history = History(np.array([0, 3, 5]), np.array([1.0, 0.5, 2.0]))
    expected = np.array([1.0, 0.5, 2.0]) @ cosine[[0, 3, 5]]
    assert cooc.scores([history])[0] == pytest.approx(expected, rel=1e-5)
    assert cooc.similarity(np.array([0, 3]), 5) == pytest.approx(cosine[[0, 3], 5])
    assert cooc.scores([history])[0, 11] == 0


def test_popularity_is_log_counts() -> None:
    assert popularity(np.array([0, 0, 2]), 3) == pytest.approx(np.log1p([2, 0, 1]))


def test_text_scores_are_cosines_with_the_weighted_profile() -> None:
    vectors = np.eye(3, dtype=np.float32)
    scores = text_scores([History(np.array([0, 1]), np.array([3.0, 1.0]))], vectors)
    expected = np.array([3.0, 1.0, 0.0]) / np.sqrt(10)
    assert scores[0] == pytest.approx(expected, rel=1e-5)
