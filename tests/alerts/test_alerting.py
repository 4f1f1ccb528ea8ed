"""Alerts from scored news: one alert per ongoing spike, none for calm bursts, owned rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from infinstruct.alerts.alerting import raise_alerts
from infinstruct.alerts.inbox import acknowledge, list_alerts
from infinstruct.alerts.watchlists import add_channel, add_watch, list_watches, mute, remove_watch
from infinstruct.core.db import session_scope
from infinstruct.core.errors import InputError, NotFoundError
from infinstruct.core.tables import Alert, Delivery
from tests.alerts.conftest import NOW, NewsStore, background, plant, twitter_headlines


@pytest.mark.slow
def test_planted_negative_burst_raises_exactly_one_alert(store: NewsStore, users: dict[str, int]) -> None:
    settings = store.settings
    add_watch(settings, "alice", "ACME", kind="ticker", aliases=["Acme Corp", "艾克米"])
    add_watch(settings, "alice", "ZZZ", kind="ticker")
    add_channel(settings, "alice", "email", "alice@example.test")
    background(store, ticker="ACME")
    background(store, ticker="ZZZ")
    burst = plant(store, "ACME", twitter_headlines("negative", 8), "negative", end=NOW)
    plant(store, "ZZZ", twitter_headlines("neutral", 8), "neutral", end=NOW)

    report = raise_alerts(settings, version_id=store.version_id, now=NOW)
    assert len(report.created) == 1, report.stats
    assert report.stats[f"{users['alice']}:ZZZ"]["is_spike"] is False  # same volume, not negative

    # The spike goes on: later runs extend the one alert instead of raising more.
    plant(
        store,
        "ACME",
        twitter_headlines("negative", 12)[8:],
        "negative",
        end=NOW + timedelta(hours=3),
        span=timedelta(hours=1),
    )
    for hours in (1, 3, 6):
        again = raise_alerts(settings, version_id=store.version_id, now=NOW + timedelta(hours=hours))
        assert again.created == [] and again.extended == 1
    with session_scope(settings) as session:
        alerts = session.exec(select(Alert)).all()
        deliveries = session.exec(select(Delivery)).all()
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert.topic == "ACME" and alert.severity in ("medium", "high") and alert.negative_share > 0.5
    assert set(burst) <= set(alert.document_ids)
    assert alert.window_end == NOW + timedelta(hours=6)
    assert sorted(d.channel_id for d in deliveries) == sorted(
        {d.channel_id for d in deliveries}
    )  # one per channel
    assert len(deliveries) == 2  # in-app + e-mail

    # Ownership: bob sees nothing of alice's and cannot acknowledge it.
    assert list_alerts(settings, "bob") == []
    with pytest.raises(NotFoundError):
        acknowledge(settings, "bob", alert.id)  # type: ignore[arg-type]
    mine = list_alerts(settings, "alice")
    assert [a["id"] for a in mine] == [alert.id]
    assert mine[0]["headlines"] and mine[0]["headlines"][0]["link"].startswith("https://")
    acknowledge(settings, "alice", alert.id)  # type: ignore[arg-type]
    assert list_alerts(settings, "alice") == [] and len(list_alerts(settings, "alice", status="all")) == 1


@pytest.mark.slow
def test_mute_cooldown_and_a_later_episode(store: NewsStore, users: dict[str, int]) -> None:
    settings = store.settings
    add_watch(
        settings, "bob", "Acme Corp", kind="company", aliases=["ACME Holdings"], rules={"cooldown_hours": 12}
    )
    negatives = twitter_headlines("negative", 24)
    for i, h in enumerate(negatives[:8]):
        store.add(f"Acme Corp: {h}", NOW - timedelta(minutes=10 * (i + 1)), "negative")
    mute(settings, "bob", "Acme Corp", hours=1, now=NOW - timedelta(minutes=5))
    muted = raise_alerts(settings, version_id=store.version_id, now=NOW)
    assert muted.spikes == 1 and muted.muted == 1 and muted.created == []
    mute(settings, "bob", "acme corp", hours=0)
    assert len(raise_alerts(settings, version_id=store.version_id, now=NOW).created) == 1
    # Three days later, a new burst is a new episode: a second alert.
    later = NOW + timedelta(days=3)
    for i, h in enumerate(negatives[8:16]):
        store.add(f"ACME Holdings {h}", later - timedelta(minutes=10 * (i + 1)), "negative")
    assert len(raise_alerts(settings, version_id=store.version_id, now=later).created) == 1
    assert len(list_alerts(settings, "bob")) == 2


def test_watchlist_crud_and_validation(store: NewsStore, users: dict[str, int]) -> None:
    settings = store.settings
    add_watch(settings, "alice", "$aapl", aliases=["Apple"], rules={"z_threshold": "3"})
    row = add_watch(settings, "alice", "AAPL", rules={"min_count": 8})  # an update keeps aliases
    assert row.aliases == ["Apple"] and row.rules == {"z_threshold": 3.0, "min_count": 8.0}
    assert [w.topic for w in list_watches(settings, "alice")] == ["AAPL"] and list_watches(
        settings, "bob"
    ) == []
    with pytest.raises(InputError, match="unknown watchlist rule"):
        add_watch(settings, "alice", "MSFT", rules={"zz": 1})
    with pytest.raises(NotFoundError):
        remove_watch(settings, "bob", "AAPL")
    with pytest.raises(InputError, match="--secret"):
        add_channel(settings, "alice", "webhook", "http://localhost:1/hook")
    with pytest.raises(NotFoundError, match="users add carol"):
        list_watches(settings, "carol")
    remove_watch(settings, "alice", "aapl")
    assert list_watches(settings, "alice") == []
