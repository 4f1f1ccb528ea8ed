"""The alerts commands through the real CLI (typer's runner, a real store)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from infinstruct.alerts.alerting import raise_alerts
from infinstruct.cli import app
from tests.alerts.conftest import NOW, NewsStore, plant

runner = CliRunner()


def _ok(*args: str) -> dict | list:  # type: ignore[type-arg]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_run_once_without_a_sentiment_model_names_the_recipe(cli_env: dict[str, str]) -> None:
    result = runner.invoke(app, ["alerts", "run-once", "--json"])
    assert result.exit_code == 2
    assert "infinstruct train sentiment-minilm" in result.output
    jobs = _ok("jobs", "list", "--kind", "alerts")
    assert jobs[0]["status"] == "failed"  # the failed run is in the history  # type: ignore[index]


def test_watchlist_channels_feeds_alerts_ack_and_mute(
    cli_env: dict[str, str],
    store: NewsStore,
    users: dict[str, int],
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    added = _ok(
        "watchlist",
        "add",
        "acme",
        "--user",
        "alice",
        "--alias",
        "Acme Corp",
        "--alias",
        "艾克米",
        "--rule",
        "z_threshold=2.5",
    )
    assert added["topic"] == "ACME" and added["rules"] == {"z_threshold": 2.5}  # type: ignore[call-overload]
    assert [w["topic"] for w in _ok("watchlist", "list", "--user", "alice")] == ["ACME"]  # type: ignore[index]
    assert _ok("watchlist", "list", "--user", "bob") == []
    bad = runner.invoke(app, ["watchlist", "add", "X", "--user", "alice", "--rule", "nope"])
    assert bad.exit_code == 2 and "KEY=VALUE" in bad.output

    channel = _ok(
        "alerts", "channels", "add", "webhook", "http://127.0.0.1:9/h", "--user", "alice", "--secret", "abc"
    )
    assert channel["secret"] == "***"  # type: ignore[call-overload]
    assert len(_ok("alerts", "channels", "list", "--user", "alice")) == 1

    feed_file = tmp_path / "feed.xml"
    feed_file.write_text("<rss><channel></channel></rss>", encoding="utf-8")
    _ok("alerts", "feeds", "add", "local", str(feed_file))
    assert [f["name"] for f in _ok("alerts", "feeds", "list")] == ["local"]  # type: ignore[index]
    missing = runner.invoke(app, ["alerts", "feeds", "add", "gone", str(tmp_path / "nope.xml")])
    assert missing.exit_code == 2 and "existing file" in missing.output
    _ok("alerts", "feeds", "remove", "local")

    plant(
        store, "ACME", [f"Acme Corp cuts its outlook again, note {i}" for i in range(8)], "negative", end=NOW
    )
    raise_alerts(store.settings, version_id=store.version_id, now=NOW)
    mine = _ok("alerts", "list", "--user", "alice")
    assert len(mine) == 1 and mine[0]["headlines"]  # type: ignore[index]
    assert _ok("alerts", "list", "--user", "bob") == []
    other = runner.invoke(app, ["alerts", "ack", str(mine[0]["id"]), "--user", "bob"])  # type: ignore[index]
    assert other.exit_code == 2 and "no alert" in other.output
    assert _ok("alerts", "ack", str(mine[0]["id"]), "--user", "alice")["status"] == "acknowledged"  # type: ignore[index,call-overload]
    assert _ok("alerts", "mute", "ACME", "--user", "alice", "--hours", "2")["muted_until"]  # type: ignore[call-overload]
    assert _ok("alerts", "mute", "ACME", "--user", "alice", "--hours", "0")["muted_until"] is None  # type: ignore[call-overload]
    deliveries = _ok("alerts", "deliveries", "--user", "alice")
    assert {d["kind"] for d in deliveries} == {"inapp", "webhook"}  # type: ignore[index]
    _ok("watchlist", "remove", "ACME", "--user", "alice")
    assert len(_ok("alerts", "list", "--user", "alice", "--status", "all")) == 1  # alerts outlive the entry
