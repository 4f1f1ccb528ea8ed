"""Spike detection for one topic: pure statistics, no database (the backtest reuses it).

The test, stated once:

* **Window** ``W`` = the last ``window_hours`` before ``now``; **baseline** ``B`` = the
  ``baseline_days`` before that window. Each item counts once (duplicates removed by the
  caller) and is negative when the sentiment model's label is ``negative``.
* The baseline is smoothed with a prior of ``prior_weight`` pseudo-items at
  ``prior_negative_share`` so a topic with little history still has a norm.
* **Share test**: a one-sided two-proportion z-test of the window's negative share
  against the baseline's, ``z = (p_W - p_B) / sqrt(p(1-p)(1/n_W + 1/n_B))`` with the
  pooled ``p``.
* **Volume test**: the window's *negative count* against the baseline's negative rate
  scaled to the window (Poisson), ``z = (k_W - λ) / sqrt(max(λ, 1))`` — a topic that is
  always a bit negative but suddenly has many negative items also spikes, while a burst
  of neutral or positive items does not.
* A spike needs ``n_W >= min_count`` items, at least ``min_negative`` negative ones and
  ``max(z_share, z_volume) >= z_threshold``. Severity grows with that z: ``low`` below
  1.5×threshold, ``medium`` below 2.5×, else ``high``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class DetectorParams:
    window_hours: float = 24
    baseline_days: float = 14
    min_count: int = 5
    min_negative: int = 3
    z_threshold: float = 2.0
    prior_negative_share: float = 0.2
    prior_weight: float = 20.0

    def with_rules(self, rules: dict[str, Any]) -> DetectorParams:
        """These parameters with a watchlist entry's own rules applied (known keys only)."""
        known = {k: type(getattr(self, k))(v) for k, v in rules.items() if k in self.__dataclass_fields__}
        return DetectorParams(**{**asdict(self), **known})


@dataclass(frozen=True)
class Observation:
    at: datetime
    negative: bool
    key: str = ""


@dataclass(frozen=True)
class SpikeStats:
    window_start: datetime
    window_end: datetime
    window_count: int
    window_negative: int
    baseline_count: int
    baseline_negative: int
    negative_share: float
    baseline_share: float
    z_share: float
    z_volume: float
    is_spike: bool
    severity: str

    @property
    def zscore(self) -> float:
        return max(self.z_share, self.z_volume)

    def as_dict(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(self).items()}


def detect(observations: Iterable[Observation], *, now: datetime, params: DetectorParams) -> SpikeStats:
    """Judge the window ending at ``now`` against the topic's own baseline."""
    window_start = now - timedelta(hours=params.window_hours)
    baseline_start = window_start - timedelta(days=params.baseline_days)
    n_w = k_w = n_b = k_b = 0
    for obs in observations:
        if window_start < obs.at <= now:
            n_w += 1
            k_w += obs.negative
        elif baseline_start < obs.at <= window_start:
            n_b += 1
            k_b += obs.negative
    prior_n = params.prior_weight
    prior_k = params.prior_negative_share * prior_n
    base_n, base_k = n_b + prior_n, k_b + prior_k
    base_share = base_k / base_n if base_n else 0.0
    share = k_w / n_w if n_w else 0.0
    z_share = _two_proportion_z(k_w, n_w, base_k, base_n)
    # Expected negatives in a window of this length at the baseline's negative rate.
    baseline_hours = params.baseline_days * 24
    expected = (k_b / baseline_hours * params.window_hours) if n_b else prior_k * params.window_hours / 24
    z_volume = (k_w - expected) / math.sqrt(max(expected, 1.0))
    z = max(z_share, z_volume)
    is_spike = n_w >= params.min_count and k_w >= params.min_negative and z >= params.z_threshold
    return SpikeStats(
        window_start=window_start,
        window_end=now,
        window_count=n_w,
        window_negative=k_w,
        baseline_count=n_b,
        baseline_negative=k_b,
        negative_share=round(share, 4),
        baseline_share=round(base_share, 4),
        z_share=round(z_share, 3),
        z_volume=round(z_volume, 3),
        is_spike=is_spike,
        severity=severity(z, params.z_threshold) if is_spike else "",
    )


def same_episode(last_window_end: datetime, stats: SpikeStats, *, cooldown_hours: float) -> bool:
    """Whether a spike continues the topic's last alert (whose window ended at ``last_window_end``):
    the windows still overlap, or the cooldown after it has not run out. One episode, one alert."""
    return last_window_end > stats.window_start or stats.window_end - last_window_end < timedelta(
        hours=cooldown_hours
    )


def _two_proportion_z(k1: float, n1: float, k2: float, n2: float) -> float:
    if n1 <= 0 or n2 <= 0:
        return 0.0
    pooled = (k1 + k2) / (n1 + n2)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if spread == 0:
        return 0.0
    return (k1 / n1 - k2 / n2) / spread


def severity(z: float, threshold: float) -> str:
    if z >= 2.5 * threshold:
        return "high"
    if z >= 1.5 * threshold:
        return "medium"
    return "low"
