"""Retrieval metrics on hand-computed cases, and the shuffled control."""

from __future__ import annotations

import math

from infinstruct.retrieval.evaluation import score_rankings, shuffled_control


def test_metrics_by_hand() -> None:
    ranked = [[5, 1, 2], [7, 8, 9]]
    relevant = [frozenset({1}), frozenset({3})]
    m = score_rankings(ranked, relevant)
    assert m["n"] == 2 and m["recall@1"] == 0.0 and m["recall@5"] == 0.5
    assert m["mrr"] == 0.25
    assert math.isclose(m["ndcg@10"], round((1 / math.log2(3)) / 2, 4))


def test_ndcg_ideal_uses_all_relevant() -> None:
    m = score_rankings([[1, 2, 9]], [frozenset({1, 2, 3})])
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert math.isclose(m["ndcg@10"], round((1 + 1 / math.log2(3)) / ideal, 4))


def test_control_breaks_a_perfect_ranking() -> None:
    ranked = [[i] for i in range(200)]
    relevant = [frozenset({i}) for i in range(200)]
    assert score_rankings(ranked, relevant)["recall@10"] == 1.0
    assert shuffled_control(ranked, relevant) < 0.05
