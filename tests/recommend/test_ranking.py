from __future__ import annotations

import math

import numpy as np
import pytest

from infinstruct.recommend.ranking import (
    Weights,
    combine,
    hit_ndcg,
    simplex_grid,
    standardise,
    target_ranks,
    top_k,
)


def test_standardise_scores_candidates_only() -> None:
    scores = np.array([[1.0, 2.0, 3.0, 100.0]])
    candidates = np.array([[True, True, True, False]])
    z = standardise(scores, candidates)
    assert z[0, 3] == -np.inf
    assert z[0, :3] == pytest.approx([-1.2247, 0.0, 1.2247], abs=1e-4)


def test_a_constant_signal_standardises_to_zero() -> None:
    z = standardise(np.ones((1, 3)), np.ones((1, 3), dtype=bool))
    assert np.all(z == 0)


def test_combine_keeps_excluded_items_excluded_and_skips_zero_weights() -> None:
    a = np.array([[1.0, -np.inf]], dtype=np.float32)
    b = np.array([[np.nan, np.nan]], dtype=np.float32)  # weight 0: never read
    out = combine({"text": a, "popularity": b}, {"text": 0.5, "popularity": 0.0})
    assert out[0, 0] == 0.5 and out[0, 1] == -np.inf
    with pytest.raises(ValueError, match="no signal"):
        combine({"text": a}, {"text": 0.0})


def test_ties_count_against_the_target() -> None:
    scores = np.array([[0.0, 0.0, 0.0, 1.0], [5.0, 1.0, 1.0, -np.inf]])
    assert target_ranks(scores, np.array([0, 0])).tolist() == [3, 0]


def test_hit_and_ndcg_values() -> None:
    metrics = hit_ndcg(np.array([0, 1, 10]), k=10)
    assert metrics["hr@10"] == pytest.approx(2 / 3, abs=1e-4)
    assert metrics["ndcg@10"] == pytest.approx((1 + 1 / math.log2(3)) / 3, abs=1e-4)
    assert hit_ndcg(np.array([], dtype=int)) == {"hr@10": 0.0, "ndcg@10": 0.0}


def test_simplex_grid_sums_to_one_and_includes_the_corners() -> None:
    grid = list(simplex_grid(0.25))
    assert len(grid) == 15
    assert all(abs(sum(m.values()) - 1) < 1e-9 for m in grid)
    assert {"text": 1.0, "collaborative": 0.0, "popularity": 0.0} in grid


def test_top_k_orders_best_first_and_skips_excluded() -> None:
    scores = np.array([0.1, -np.inf, 0.9, 0.5])
    assert top_k(scores, 2).tolist() == [2, 3]
    assert top_k(scores, 10).tolist() == [2, 3, 0]
    assert top_k(np.full(3, -np.inf), 2).size == 0


def test_weights_round_trip_through_a_dict() -> None:
    weights = Weights(text=0.5, collaborative=0.25, popularity=0.25, text_half_life=None)
    assert Weights.from_dict({**weights.as_dict(), "unknown": 1}) == weights
    assert weights.mix() == {"text": 0.5, "collaborative": 0.25, "popularity": 0.25}
