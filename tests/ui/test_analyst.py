"""The analyst dashboard: its handlers over a real store, per caller, and the Gradio page builds."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest

from infinstruct.alerts.alerting import raise_alerts
from infinstruct.alerts.watchlists import add_watch
from infinstruct.core.errors import InfinstructError, NotFoundError
from infinstruct.ui.analyst import AnalystView, build_analyst_app, per_caller
from tests.alerts.conftest import NOW, NewsStore, plant
from tests.alerts.conftest import store as store  # fixtures used by the test below
from tests.alerts.conftest import users as users


@pytest.mark.slow
def test_dashboard_shows_only_the_users_alerts_and_edits_the_watchlist(
    store: NewsStore,
    users: dict[str, int],
) -> None:
    settings = store.settings
    add_watch(settings, "alice", "ACME", aliases=["Acme Corp"])
    add_watch(settings, "bob", "ACME")
    plant(store, "ACME", [f"Acme Corp misses estimates, take {i}" for i in range(8)], "negative", end=NOW)
    store.add("$ACME steady day", NOW - timedelta(days=2), "neutral")
    raise_alerts(settings, version_id=store.version_id, now=NOW)

    alice, bob = AnalystView(settings, "alice"), AnalystView(settings, "bob")
    mine = alice.alerts()
    assert len(mine) == 1 and mine[0][1] == "ACME"
    assert "Acme Corp misses estimates" in alice.headlines(mine[0][0])
    with pytest.raises(InfinstructError):
        alice.headlines(bob.alerts()[0][0])  # bob's alert (his own spike) is not alice's to read
    assert alice.acknowledge(mine[0][0]) == f"alert {mine[0][0]} acknowledged"
    assert alice.alerts() == [] and len(alice.alerts("all")) == 1

    trend = alice.trend("ACME", 5)
    assert list(trend["items"]) == [1, 8] and list(trend["negative_share"]) == [0.0, 1.0]

    alice.save_watch("Globex", "company", "Globex Corp, 环球", "z_threshold=3")
    assert ["Globex", "company", "Globex Corp, 环球", "z_threshold=3", ""] in alice.watchlist()
    assert "muted until" in alice.mute("Globex", 2)
    alice.remove_watch("Globex")
    assert alice.topics() == ["ACME"]
    with pytest.raises(InfinstructError, match="KEY=VALUE"):
        alice.save_watch("X", "ticker", "", "oops")
    with pytest.raises(NotFoundError, match="no user 'mallory'"):
        AnalystView(settings, "mallory")


def test_one_app_answers_each_caller_with_their_own_rows(store: NewsStore, users: dict[str, int]) -> None:
    import gradio as gr
    from gradio.helpers import special_args

    settings = store.settings
    add_watch(settings, "alice", "ACME")
    add_watch(settings, "bob", "GLOBEX")
    app = build_analyst_app(settings)  # built once, for nobody in particular
    assert app.title == "infinstruct · analyst"

    watchlist = per_caller(settings, lambda v: v.watchlist, 0)
    alerts = per_caller(settings, lambda v: v.alerts, 1)
    as_alice, as_bob = SimpleNamespace(username="alice"), SimpleNamespace(username="bob")
    assert [row[0] for row in watchlist(as_alice)] == ["ACME"]
    assert [row[0] for row in watchlist(as_bob)] == ["GLOBEX"]
    assert alerts("open", as_alice) == []
    # Gradio finds the request parameter by its annotation and injects the caller's request.
    inputs, *_ = special_args(alerts, inputs=["open"], request=as_alice)  # type: ignore[arg-type]
    assert inputs == ["open", as_alice]
    with pytest.raises(gr.Error, match="log in as an analyst"):
        watchlist(SimpleNamespace(username=None))
    with pytest.raises(gr.Error, match="no user"):
        watchlist(SimpleNamespace(username="mallory"))
