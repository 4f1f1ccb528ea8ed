"""Backtest the spike detector on a replayed news stream with planted bursts (pure, no I/O).

The stream is dated background news (e.g. Seeking Alpha summaries, CNBC captures) plus
planted bursts: ``size`` real labelled headlines about one ticker within ``span_hours``.
Negative bursts should raise an alert; control bursts (neutral/positive headlines of the
same volume) should not. Every item carries the sentiment model's verdict, so the report
measures the detector together with the model that feeds it, as in production.

The replay polls like the scheduler: the detector runs per ticker at the first poll time
(a ``poll_minutes`` grid) after each new item of that ticker — a spike can only begin when
an item arrives — with the same episode rule as the alerts (one ongoing spike, one alert).

Scoring the report:

* a negative burst is **detected** when an alert for its ticker is raised after its first
  item and while its items are still in the window (last item + ``window_hours``);
  **delay** = raise time − first planted item;
* an alert that matches no negative burst is **false** (control bursts included);
* ``precision`` = matched alerts / all alerts, ``recall`` = detected / negative bursts,
  ``false_per_ticker_week`` = false alerts / (tickers in the stream × weeks replayed).
"""

from __future__ import annotations

import random
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypedDict

from infinstruct.alerts.detector import DetectorParams, Observation, detect, same_episode


@dataclass(frozen=True)
class StreamItem:
    key: str
    at: datetime
    tickers: frozenset[str]
    negative: bool


@dataclass(frozen=True)
class Burst:
    ticker: str
    start: datetime
    end: datetime
    negative: bool  # planted from negative headlines (else a control of the same volume)
    size: int


@dataclass(frozen=True)
class RaisedAlert:
    ticker: str
    at: datetime
    severity: str
    zscore: float


class DetectionScores(TypedDict):
    """How the detector (fed by the model) did against the planted bursts."""

    negative_bursts: int
    control_bursts: int
    detected: int
    recall: float | None
    alerts: int
    true_alerts: int
    false_alerts: int
    precision: float | None
    controls_alerted: int
    false_per_ticker_week: float
    median_delay_min: float | None
    max_delay_min: float | None
    tickers: int
    weeks: float


@dataclass
class Replay:
    alerts: list[RaisedAlert] = field(default_factory=list)
    checks: int = 0


def place_bursts(
    tickers: Sequence[str],
    *,
    negative: int,
    controls: int,
    start: datetime,
    end: datetime,
    span_hours: float,
    gap_hours: float,
    size: int,
    seed: int,
) -> list[Burst]:
    """Burst slots at seeded random times, round-robin over ``tickers``; bursts of one ticker
    are ``gap_hours`` apart so each one is judged on its own (not as one long episode)."""
    if not tickers:
        return []
    rng = random.Random(seed)
    span = timedelta(hours=span_hours)
    latest = end - span
    if latest <= start:
        return []
    taken: dict[str, list[datetime]] = defaultdict(list)
    bursts: list[Burst] = []
    kinds = [True] * negative + [False] * controls
    rng.shuffle(kinds)
    for n, is_negative in enumerate(kinds):
        ticker = tickers[n % len(tickers)]
        for _ in range(200):  # give up on a slot rather than loop forever in a short stream
            at = start + (latest - start) * rng.random()
            if all(abs((at - other).total_seconds()) >= gap_hours * 3600 for other in taken[ticker]):
                taken[ticker].append(at)
                bursts.append(Burst(ticker, at, at + span, is_negative, size))
                break
    return sorted(bursts, key=lambda b: b.start)


def burst_times(burst: Burst) -> list[datetime]:
    """When the burst's items are published: evenly over its span, the last at its end."""
    step = (burst.end - burst.start) / max(burst.size - 1, 1)
    return [burst.start + step * i for i in range(burst.size - 1)] + [burst.end]


def replay(
    items: Sequence[StreamItem],
    *,
    tickers: Sequence[str],
    params: DetectorParams,
    cooldown_hours: float,
    poll_minutes: float,
) -> Replay:
    """Run the detector over the stream as the scheduler would, per ticker."""
    by_ticker: dict[str, list[StreamItem]] = defaultdict(list)
    wanted = set(tickers)
    for item in sorted(items, key=lambda i: i.at):
        for ticker in item.tickers & wanted:
            by_ticker[ticker].append(item)
    out = Replay()
    if not items:
        return out
    grid = timedelta(minutes=poll_minutes)
    origin = min(i.at for i in items)  # one poll grid for every ticker, as one scheduler runs
    for ticker in sorted(by_ticker):
        stream = by_ticker[ticker]
        observations = [Observation(i.at, i.negative, i.key) for i in stream]
        polls = sorted({origin + grid * -(-(i.at - origin) // grid) for i in stream})
        last_end: datetime | None = None
        for now in polls:
            out.checks += 1
            stats = detect(observations, now=now, params=params)
            if not stats.is_spike:
                continue
            if last_end is not None and same_episode(last_end, stats, cooldown_hours=cooldown_hours):
                last_end = max(last_end, stats.window_end)  # the ongoing alert is extended
                continue
            last_end = stats.window_end
            out.alerts.append(RaisedAlert(ticker, now, stats.severity, stats.zscore))
    return out


def evaluate(
    alerts: Sequence[RaisedAlert],
    bursts: Sequence[Burst],
    *,
    window_hours: float,
    tickers: int,
    start: datetime,
    end: datetime,
) -> DetectionScores:
    """Recall, precision, false alerts per ticker-week and detection delays (see module doc)."""
    window = timedelta(hours=window_hours)
    matched: set[int] = set()
    delays: list[float] = []
    control_alerts = 0
    for burst in bursts:
        hits = [
            n
            for n, a in enumerate(alerts)
            if a.ticker == burst.ticker and burst.start <= a.at <= burst.end + window
        ]
        if burst.negative:
            matched.update(hits)
            if hits:
                delays.append((min(alerts[n].at for n in hits) - burst.start).total_seconds() / 60)
        else:
            control_alerts += bool(hits)
    negatives = [b for b in bursts if b.negative]
    detected = len(delays)
    false = len(alerts) - len(matched)
    weeks = max((end - start).total_seconds() / (7 * 86400), 1 / 7)
    return {
        "negative_bursts": len(negatives),
        "control_bursts": len(bursts) - len(negatives),
        "detected": detected,
        "recall": round(detected / len(negatives), 4) if negatives else None,
        "alerts": len(alerts),
        "true_alerts": len(matched),
        "false_alerts": false,
        "precision": round(len(matched) / len(alerts), 4) if alerts else None,
        "controls_alerted": control_alerts,
        "false_per_ticker_week": round(false / (max(tickers, 1) * weeks), 5),
        "median_delay_min": round(statistics.median(delays), 1) if delays else None,
        "max_delay_min": round(max(delays), 1) if delays else None,
        "tickers": tickers,
        "weeks": round(weeks, 2),
    }
