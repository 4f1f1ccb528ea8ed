"""The whole loop with the real parts: a sentiment-minilm trained here, the real CNBC captures
over HTTP, a drop folder of real labelled Twitter headlines, the real CLI.

A planted burst of bearish headlines about one ticker raises exactly one alert; a burst of
bullish headlines of the same volume about another ticker raises none.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from infinstruct.cli import app
from tests.alerts.conftest import NOW, TrainedSentiment, twitter_headlines

runner = CliRunner()
BURST = 16


def _ok(*args: str) -> Any:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def write_drop(folder: Path, rows: list[tuple[str, datetime, str]]) -> Path:
    """A generic news CSV (title, date, tickers), the shape the drop-folder feed reads."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "wire.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["title", "date", "tickers"])
        writer.writerows((title, at.isoformat(), ticker) for title, at, ticker in rows)
    return path


@pytest.mark.slow
def test_real_model_real_feeds_one_alert_for_the_negative_burst_only(
    cli_env: dict[str, str],
    users: dict[str, int],
    sentiment_model: TrainedSentiment,
    served: str,
    tmp_path: Path,
) -> None:
    from infinstruct.core.settings import load_settings

    settings = load_settings(data_dir=Path(cli_env["INFINSTRUCT_DATA_DIR"]))
    version = sentiment_model.activate_in(settings)
    # Both topics are new to the watchlist (no history), so each burst is judged on the same
    # footing; the bearish headlines are news of harm (breaches, cuts), the control bullish.
    bearish = twitter_headlines("negative", BURST, skip=2000)
    bullish = twitter_headlines("positive", BURST)
    end = NOW - timedelta(minutes=30)
    step = timedelta(hours=2) / BURST
    rows = [(f"$ACME {h}", end - step * i, "ACME") for i, h in enumerate(bearish)]
    rows += [(f"$GLBX {h}", end - step * i, "GLBX") for i, h in enumerate(bullish)]
    drop = write_drop(tmp_path / "drop", rows).parent

    for topic in ("ACME", "GLBX"):
        _ok("watchlist", "add", topic, "--user", "alice")
    for name in ("cnbc_finance_328d4bb0", "cnbc_finance_e4f355da"):
        _ok("alerts", "feeds", "add", name.replace("_", "-"), f"{served}/{name}.xml")
    _ok("alerts", "feeds", "add", "wire", str(drop), "--kind", "folder")

    report = _ok("alerts", "run-once", "--now", NOW.isoformat())
    assert report["model"] == version
    assert all(feed["ok"] for feed in report["feeds"]), report["feeds"]
    loaded = {feed["feed"]: feed["loaded"] for feed in report["feeds"]}
    assert loaded["wire"] == len(rows) and loaded["cnbc-finance-328d4bb0"] == 30
    assert report["items"] == sum(loaded.values())  # every new item scored, once
    assert len(report["alerts"]) == 1, report["alerts"]
    alerts = _ok("alerts", "list", "--user", "alice")
    assert [a["topic"] for a in alerts] == ["ACME"]
    titles = {h["title"] for h in alerts[0]["headlines"]}
    assert len(titles) >= 8 and all(t.startswith("$ACME ") for t in titles)  # the planted burst
    assert _ok("alerts", "list", "--user", "bob") == []

    again = _ok("alerts", "run-once", "--now", (NOW + timedelta(minutes=15)).isoformat())
    assert again["items"] == 0 and again["alerts"] == []  # nothing new scored, the spike is one alert
