"""The backtest: the replay and its scoring on a synthetic stream, then the real command over
real Seeking Alpha summaries with real labelled Twitter headlines planted, scored by a real model."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infinstruct.alerts.backtest import (
    Burst,
    StreamItem,
    burst_times,
    evaluate,
    place_bursts,
    replay,
)
from infinstruct.alerts.backtest_run import clean_headline
from infinstruct.alerts.cli import backtest_summary
from infinstruct.alerts.detector import DetectorParams
from infinstruct.cli import app
from infinstruct.core.settings import load_settings
from tests.alerts.conftest import TrainedSentiment
from tests.conftest import shared_path

START = datetime(2023, 3, 1, tzinfo=UTC)
END = START + timedelta(days=21)
PARAMS = DetectorParams()


def _calm(ticker: str) -> list[StreamItem]:
    """Two items a day, one in five negative."""
    return [
        StreamItem(f"{ticker}-{n}", START + timedelta(hours=12 * n), frozenset({ticker}), n % 5 == 0)
        for n in range(42)
    ]


def _planted(bursts: list[Burst]) -> list[StreamItem]:
    return [
        StreamItem(f"p{b.ticker}{n}{i}", at, frozenset({b.ticker}), b.negative)
        for n, b in enumerate(bursts)
        for i, at in enumerate(burst_times(b))
    ]


def test_bursts_are_spread_and_apart_per_ticker() -> None:
    bursts = place_bursts(
        ["AAA", "BBB"],
        negative=4,
        controls=4,
        start=START,
        end=END,
        span_hours=2,
        gap_hours=40,
        size=8,
        seed=3,
    )
    assert len(bursts) == 8 and sum(b.negative for b in bursts) == 4
    for ticker in ("AAA", "BBB"):
        starts = sorted(b.start for b in bursts if b.ticker == ticker)
        assert all((b - a) >= timedelta(hours=40) for a, b in zip(starts, starts[1:], strict=False))
    assert all(b.start >= START and b.end <= END for b in bursts)
    times = burst_times(bursts[0])
    assert len(times) == 8 and times[0] == bursts[0].start and times[-1] == bursts[0].end


def test_replay_finds_negative_bursts_and_not_controls() -> None:
    bursts = place_bursts(
        ["AAA", "BBB"], negative=3, controls=3, start=START + timedelta(days=3), end=END,
        span_hours=2, gap_hours=48, size=10, seed=5,
    )  # fmt: skip
    stream = _calm("AAA") + _calm("BBB") + _planted(bursts)
    result = replay(stream, tickers=["AAA", "BBB"], params=PARAMS, cooldown_hours=12, poll_minutes=15)
    report = evaluate(result.alerts, bursts, window_hours=24, tickers=2, start=START, end=END)
    assert report["recall"] == 1.0 and report["precision"] == 1.0
    assert report["alerts"] == 3 and report["controls_alerted"] == 0 and report["false_alerts"] == 0
    # Detected while the burst goes on: within its two hours plus one poll interval.
    assert 0 < report["median_delay_min"] <= 135
    assert report["false_per_ticker_week"] == 0 and report["weeks"] == 3.0


def test_one_ongoing_spike_is_one_alert_and_misses_are_counted() -> None:
    burst = Burst("AAA", START + timedelta(days=5), START + timedelta(days=5, hours=2), True, 10)
    long_burst = _planted([burst]) + [
        StreamItem(f"late{i}", burst.end + timedelta(hours=1 + i), frozenset({"AAA"}), True) for i in range(6)
    ]
    result = replay(
        _calm("AAA") + long_burst, tickers=["AAA"], params=PARAMS, cooldown_hours=12, poll_minutes=15
    )
    assert len(result.alerts) == 1
    missed = Burst("AAA", START + timedelta(days=12), START + timedelta(days=12, hours=2), True, 10)
    report = evaluate(result.alerts, [burst, missed], window_hours=24, tickers=1, start=START, end=END)
    assert report["detected"] == 1 and report["recall"] == 0.5


def test_planted_headlines_lose_their_own_tickers_and_links() -> None:
    assert (
        clean_headline("$BYND - JPMorgan reels in expectations https://t.co/x")
        == "JPMorgan reels in expectations"
    )


def _slice_csv(source: Path, target: Path, rows: int) -> Path:
    with source.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        kept = [next(reader)] + [row for _, row in zip(range(rows), reader, strict=False)]
    with target.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(kept)
    return target


@pytest.mark.slow
def test_backtest_command_on_real_news_with_a_real_model(
    cli_env: dict[str, str], sentiment_model: TrainedSentiment, tmp_path: Path
) -> None:
    settings = load_settings(data_dir=Path(cli_env["INFINSTRUCT_DATA_DIR"]))
    data = _slice_csv(
        shared_path("finance", "seeking_alpha_summaries", "seeking_alpha_articles.csv"),
        tmp_path / "sa.csv",
        60,
    )
    plant = _slice_csv(
        shared_path("finance", "twitter_financial_news_sentiment", "sent_train.csv"), tmp_path / "tw.csv", 200
    )
    runner = CliRunner()
    args = ["alerts", "backtest", "--data", str(data), "--plant", str(plant), "--bursts", "3", "--size", "10"]
    without_model = runner.invoke(app, [*args, "--json"])
    assert without_model.exit_code == 2 and "infinstruct train sentiment-minilm" in without_model.output

    version = sentiment_model.activate_in(settings)
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["model"] == version and report["background_items"] > 30
    assert report["negative_bursts"] == 3 and report["control_bursts"] == 3 and report["planted_items"] == 60
    assert report["detected"] >= 1 and report["recall"] == pytest.approx(report["detected"] / 3, abs=1e-4)
    assert report["alerts"] == report["true_alerts"] + report["false_alerts"]
    assert {b["ticker"] for b in report["bursts"]} <= _tickers(data)  # planted on the data's tickers
    assert sum(b["alerted"] for b in report["bursts"] if not b["negative"]) == report["controls_alerted"]
    assert "negative bursts detected: " in backtest_summary(report)


def _tickers(path: Path) -> set[str]:
    with path.open(encoding="utf-8", newline="") as fh:
        return {row["ticker"].strip().upper() for row in csv.DictReader(fh)}
