"""Two analysts in a real browser on one mounted dashboard: each sees only their own alerts;
one acknowledges hers and the store says so. The app runs with the scheduler inside it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from infinstruct.alerts import lease
from infinstruct.alerts.alerting import raise_alerts
from infinstruct.alerts.scheduler import LEASE_NAME
from infinstruct.alerts.watchlists import add_watch
from infinstruct.auth import users
from infinstruct.core.db import session_scope
from infinstruct.core.settings import load_settings
from infinstruct.core.tables import Alert
from infinstruct.services import build_app
from tests.alerts.conftest import NOW, NewsStore, plant, twitter_headlines
from tests.alerts.conftest import store as store  # fixture used below
from tests.alerts.test_scheduler import _wait_for
from tests.live import browser_page, live_server, login, screenshot


@pytest.mark.slow
@pytest.mark.browser
def test_analysts_see_only_their_alerts_and_acknowledge_one(
    store: NewsStore, cli_env: dict[str, str]
) -> None:
    settings = store.settings
    for name in ("ana", "ben"):
        users.add_user(settings, name, role="analyst", password=f"{name}-password")
    add_watch(settings, "ana", "ACME", aliases=["Acme Corp"])
    add_watch(settings, "ben", "GLBX")
    bearish = twitter_headlines("negative", 16)
    plant(store, "ACME", bearish[:8], "negative", end=NOW - timedelta(hours=1))
    plant(store, "GLBX", bearish[8:], "negative", end=NOW - timedelta(hours=1))
    raise_alerts(settings, version_id=store.version_id, now=NOW)
    with session_scope(settings) as session:
        acme = session.exec(select(Alert).where(Alert.topic == "ACME")).one()
        ana_alert = acme.id

    from playwright.sync_api import expect

    serving = load_settings(data_dir=settings.data_dir, scheduler={"run_in_serve": True})
    with live_server(build_app(serving)) as base, browser_page() as page:
        _wait_for(lambda: lease.current_holder(serving, LEASE_NAME) is not None)  # serve runs the scheduler
        login(page, base, "ana", "ana-password", "/analyst/")
        page.wait_for_selector("text=Sentiment alerts · ana")
        expect(page.locator("#alerts")).to_contain_text("ACME")
        assert "GLBX" not in page.locator("#alerts").inner_text()
        page.locator("#alerts span.text").filter(has_text="ACME").first.click()  # select the alert's row
        expect(page.locator("#alert-details")).to_contain_text(bearish[0][:30])
        page.get_by_role("button", name="Acknowledge").click()
        expect(page.locator("#alert-details")).to_contain_text(f"alert {ana_alert} acknowledged")
        screenshot(page, "analyst-acknowledged")

        page.context.clear_cookies()  # log out; the next analyst on the same mounted app
        login(page, base, "ben", "ben-password", "/analyst/")
        page.wait_for_selector("text=Sentiment alerts · ben")
        expect(page.locator("#alerts")).to_contain_text("GLBX")
        assert "ACME" not in page.locator("#alerts").inner_text()
        screenshot(page, "analyst-other-user")
    with session_scope(settings) as session:
        assert session.get(Alert, ana_alert).status == "acknowledged"  # type: ignore[union-attr]
        assert session.exec(select(Alert).where(Alert.topic == "GLBX")).one().status == "open"
    assert lease.current_holder(serving, LEASE_NAME) is None  # shutdown gave the lease back
