from __future__ import annotations

from datetime import UTC, datetime, timedelta

from infinstruct.alerts.detector import DetectorParams, Observation, detect

NOW = datetime(2024, 1, 15, 12, tzinfo=UTC)
PARAMS = DetectorParams(window_hours=24, baseline_days=14, min_count=5, min_negative=3, z_threshold=2.0)


def _history(per_day: int = 4, negative_every: int = 5) -> list[Observation]:
    out = []
    for day in range(14, 1, -1):
        for k in range(per_day):
            n = day * per_day + k
            out.append(Observation(NOW - timedelta(days=day, hours=k), n % negative_every == 0))
    return out


def _burst(count: int, negative: bool) -> list[Observation]:
    return [Observation(NOW - timedelta(minutes=10 * (i + 1)), negative) for i in range(count)]


def test_negative_burst_against_a_calm_baseline_is_a_high_spike() -> None:
    stats = detect(_history() + _burst(10, True), now=NOW, params=PARAMS)
    assert stats.is_spike and stats.severity == "high"
    assert stats.window_count == 10 and stats.window_negative == 10
    assert stats.z_share > 4


def test_neutral_burst_of_the_same_volume_is_not_a_spike() -> None:
    stats = detect(_history() + _burst(10, False), now=NOW, params=PARAMS)
    assert not stats.is_spike and stats.severity == ""


def test_min_count_guards_small_windows() -> None:
    stats = detect(_history() + _burst(3, True), now=NOW, params=PARAMS)
    assert stats.window_negative == 3 and not stats.is_spike


def test_a_topic_that_is_always_negative_needs_more_to_spike() -> None:
    gloomy = _history(negative_every=1)  # every baseline item negative
    assert not detect(gloomy + _burst(6, True), now=NOW, params=PARAMS).is_spike
    # ... but a flood of negative items far above its own daily rate still is one (volume test).
    flood = detect(gloomy + _burst(40, True), now=NOW, params=PARAMS)
    assert flood.is_spike and flood.z_volume > flood.z_share


def test_a_new_topic_uses_the_prior_as_its_baseline() -> None:
    stats = detect(_burst(8, True), now=NOW, params=PARAMS)
    assert stats.baseline_count == 0 and stats.baseline_share == PARAMS.prior_negative_share
    assert stats.is_spike


def test_rules_override_the_defaults() -> None:
    strict = PARAMS.with_rules({"z_threshold": 50, "unknown": 1})
    assert strict.z_threshold == 50
    assert not detect(_history() + _burst(10, True), now=NOW, params=strict).is_spike
