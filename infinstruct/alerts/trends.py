"""Per-topic sentiment over time, for the analyst dashboard's trend plots."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from infinstruct.alerts.alerting import load_scored_items
from infinstruct.alerts.topics import TopicMatcher
from infinstruct.alerts.watchlists import list_watches
from infinstruct.core.db import session_scope
from infinstruct.core.errors import NotFoundError
from infinstruct.core.registry import active_version
from infinstruct.core.settings import Settings
from infinstruct.core.tables import SentimentScore
from infinstruct.core.tables._columns import utcnow


def scoring_version_id(settings: Settings) -> int | None:
    """The active sentiment version, else the one that scored most recently."""
    active = active_version(settings, "sentiment")
    if active is not None:
        return active.id
    with session_scope(settings) as session:
        return session.exec(
            select(SentimentScore.model_version_id).order_by(col(SentimentScore.created_at).desc()).limit(1)
        ).first()


def topic_trend(
    settings: Settings, username: str, topic: str, *, days: int = 14, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Daily rows ``{day, items, negative, negative_share}`` of one of the user's topics."""
    watch = next((w for w in list_watches(settings, username) if w.topic.upper() == topic.upper()), None)
    if watch is None:
        raise NotFoundError(f"{topic!r} is not on {username}'s watchlist")
    version_id = scoring_version_id(settings)
    if version_id is None:
        return []
    end = now or latest_item_time(settings, version_id) or utcnow()
    items = load_scored_items(settings, version_id=version_id, since=end - timedelta(days=days), until=end)
    matcher = TopicMatcher(watch.topic, watch.kind, list(watch.aliases))
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for item in items:
        if matcher.matches(item.text, item.tickers):
            day = item.at.date().isoformat()
            counts[day][0] += 1
            counts[day][1] += item.negative
    return [
        {"day": day, "items": n, "negative": k, "negative_share": round(k / n, 3)}
        for day, (n, k) in sorted(counts.items())
    ]


def latest_item_time(settings: Settings, version_id: int) -> datetime | None:
    """When the newest scored item was published (replayed or dated data is not 'now')."""
    from infinstruct.core.tables import Document

    stamp = func.coalesce(col(Document.published_at), col(Document.created_at))
    with session_scope(settings) as session:
        latest = session.exec(
            select(func.max(stamp))
            .join(SentimentScore, col(SentimentScore.document_id) == col(Document.id))
            .where(SentimentScore.model_version_id == version_id)
        ).first()
    if latest is None:
        return None
    if isinstance(latest, str):  # SQLite returns max() of a datetime column as text
        latest = datetime.fromisoformat(latest)
    return latest if latest.tzinfo else latest.replace(tzinfo=utcnow().tzinfo)
