"""Reciprocal-rank fusion and the stored per-language weights."""

from __future__ import annotations

from infinstruct.core.settings import Settings
from infinstruct.retrieval.fusion import dense_weight, rrf, save_weights


def test_rrf_weights_the_two_rankings() -> None:
    dense = [(1, 0.9), (2, 0.8)]
    lexical = [(3, 7.0), (1, 5.0)]
    assert rrf(dense, lexical, dense_weight=1.0, k=60)[0][0] == 1
    only_bm25 = rrf(dense, lexical, dense_weight=0.0, k=60)
    assert only_bm25[0][0] == 3 and dict(only_bm25)[2] == 0.0
    fused = dict(rrf(dense, lexical, dense_weight=0.5, k=60))
    assert fused[1] == 0.5 / 61 + 0.5 / 62


def test_fitted_weights_override_the_settings(settings: Settings) -> None:
    assert dense_weight(settings, "en") == settings.retrieval.dense_weight_en
    save_weights(settings, {"zh": {"dense_weight": 0.3}})
    save_weights(settings, {"en": {"dense_weight": 0.8}})
    assert dense_weight(settings, "zh") == 0.3 and dense_weight(settings, "en") == 0.8
