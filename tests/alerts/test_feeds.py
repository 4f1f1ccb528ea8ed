"""Feeds polled over real HTTP: the CNBC captures served locally, read by the connectors."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import func, select

from infinstruct import services
from infinstruct.alerts.feeds import add_feed, list_feeds, poll_feeds, remove_feed
from infinstruct.core.db import session_scope
from infinstruct.core.errors import InputError
from infinstruct.core.settings import Settings
from infinstruct.core.tables import Document


def _news(settings: Settings) -> int:
    with session_scope(settings) as session:
        return int(
            session.exec(select(func.count()).select_from(Document).where(Document.kind == "news")).one()
        )


@pytest.mark.slow
def test_polling_real_feeds_over_http_loads_only_new_items(settings: Settings, served: str) -> None:
    add_feed(settings, "cnbc-23", f"{served}/cnbc_finance_e4f355da.xml")
    add_feed(settings, "broken", f"{served}/missing.xml")
    reader = services.build_feed_reader(settings)
    first = {r["feed"]: r for r in poll_feeds(settings, reader)}
    assert first["cnbc-23"]["ok"] and first["cnbc-23"]["loaded"] == 30
    assert not first["broken"]["ok"] and "missing.xml" in first["broken"]["error"]  # others go on
    assert _news(settings) == 30
    again = {r["feed"]: r for r in poll_feeds(settings, reader)}
    assert again["cnbc-23"]["loaded"] == 0 and _news(settings) == 30  # an unchanged feed adds nothing
    assert next(f for f in list_feeds(settings) if f.name == "cnbc-23").last_polled_at is not None
    remove_feed(settings, "broken")


def test_feed_validation(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="kind must be one of"):
        add_feed(settings, "x", "http://example.test/rss", kind="kafka")
    with pytest.raises(InputError, match="existing folder"):
        add_feed(settings, "x", str(tmp_path / "nope"), kind="folder")
    add_feed(settings, "drop", str(tmp_path), kind="folder")
    with pytest.raises(InputError, match="exists"):
        add_feed(settings, "drop", str(tmp_path), kind="folder")
    with pytest.raises(InputError, match="no feed reader"):
        poll_feeds(settings, None)
