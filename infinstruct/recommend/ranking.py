"""Mixing the signals: per-user standardisation, a weighted sum, ranks and metrics.

The raw signals live on different scales (cosines near 0.3, co-occurrence sums with a
heavy tail, log counts), so each is z-scored per user over that user's candidates before
the weighted sum; the weights are then comparable and can be fitted on a validation split.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

SIGNALS = ("text", "collaborative", "popularity")


@dataclass(frozen=True)
class Weights:
    """The fitted mix and the history-weighting parameters it was fitted with."""

    text: float = 0.2
    collaborative: float = 0.6
    popularity: float = 0.2
    text_half_life: float | None = 1.0
    text_rating_power: float = 0.0
    collab_half_life: float | None = 1.0
    collab_rating_power: float = 2.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Weights:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)

    def mix(self) -> dict[str, float]:
        return {name: float(getattr(self, name)) for name in SIGNALS}


def standardise(scores: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """z-score each row over its candidates; non-candidates become -inf."""
    scores = scores.astype(np.float32, copy=False)
    count = np.maximum(candidates.sum(axis=1, keepdims=True), 1)
    masked = np.where(candidates, scores, 0.0)
    mean = masked.sum(axis=1, keepdims=True) / count
    var = (np.where(candidates, scores - mean, 0.0) ** 2).sum(axis=1, keepdims=True) / count
    std = np.sqrt(var)
    z = (scores - mean) / np.where(std > 1e-12, std, 1.0)
    return np.where(candidates, z, -np.inf).astype(np.float32)


def combine(z: Mapping[str, np.ndarray], mix: Mapping[str, float]) -> np.ndarray:
    """Weighted sum of standardised signals (signals with weight 0 are skipped)."""
    used = [(name, w) for name, w in mix.items() if w and name in z]
    if not used:
        raise ValueError("no signal has a positive weight")
    out = np.zeros_like(z[used[0][0]])
    for name, w in used:
        # -inf * w stays -inf for every positive weight, so excluded items stay excluded.
        out += np.float32(w) * z[name]
    return out


def target_ranks(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """0-based rank of each row's target; ties count against the target (pessimistic)."""
    target_score = scores[np.arange(scores.shape[0]), targets][:, None]
    above = (scores > target_score).sum(axis=1)
    ties = (scores == target_score).sum(axis=1) - 1
    return np.asarray(above + ties)


def hit_ndcg(ranks: np.ndarray, k: int = 10) -> dict[str, float]:
    if ranks.size == 0:
        return {f"hr@{k}": 0.0, f"ndcg@{k}": 0.0}
    hit = ranks < k
    gain = np.where(hit, 1.0 / np.log2(ranks + 2.0), 0.0)
    return {f"hr@{k}": round(float(hit.mean()), 4), f"ndcg@{k}": round(float(gain.mean()), 4)}


def simplex_grid(step: float = 0.1) -> Iterator[dict[str, float]]:
    """Every (text, collaborative, popularity) mix with weights on a ``step`` grid summing to 1."""
    n = round(1 / step)
    for a in range(n + 1):
        for b in range(n + 1 - a):
            yield {"text": a / n, "collaborative": b / n, "popularity": (n - a - b) / n}


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indexes of the ``k`` best finite scores of a 1-d array, best first."""
    finite = np.flatnonzero(np.isfinite(scores))
    if finite.size == 0:
        return finite
    k = min(k, finite.size)
    part = finite[np.argpartition(-scores[finite], k - 1)[:k]]
    return part[np.argsort(-scores[part], kind="stable")]
